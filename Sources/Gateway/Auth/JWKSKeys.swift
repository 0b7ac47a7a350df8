import AsyncHTTPClient
import Foundation
import GatewayConfig
import JWTKit
import Logging
import NIOCore
import NIOSSL

/// The keys of a JWKS (`auth.jwt.jwks`: a file or an http(s) URL), fetched at start, cached, refreshed
/// when older than `refreshInterval`, and refreshed at once when a token names an unknown `kid` — at
/// most once per `unknownKidCooldown`, so a stream of made-up `kid`s cannot make wsgate hammer the
/// key server.
actor JWKSKeys {
    /// A key of the set: what verifies, and the algorithms it may verify.
    private struct Key {
        let algorithms: Set<String>
    }

    let source: String
    private let caFile: String?
    private let logger: Logger
    private let refreshInterval: Duration
    private let unknownKidCooldown: Duration
    private var collection = JWTKeyCollection()
    private var keys: [String: Key] = [:]
    private var fetchedAt: ContinuousClock.Instant?
    private var lastUnknownKidRefresh: ContinuousClock.Instant?
    private var fetching: Task<Void, Never>?
    /// Key-set fetches so far (tests, logs).
    private(set) var fetches = 0

    init(
        source: String, caFile: String?, logger: Logger, refreshInterval: Duration = .seconds(300),
        unknownKidCooldown: Duration = .seconds(10)
    ) {
        self.source = source
        self.caFile = caFile
        self.logger = logger
        self.refreshInterval = refreshInterval
        self.unknownKidCooldown = unknownKidCooldown
    }

    /// The algorithms the key `kid` allows and the collection holding it; nil when the set has no such
    /// key even after the refresh an unknown `kid` may trigger. Throws when no key set could be had.
    func key(for kid: String) async -> (algorithms: Set<String>, collection: JWTKeyCollection)?? {
        let now = ContinuousClock.now
        if fetchedAt == nil || (fetchedAt.map { now - $0 > refreshInterval } ?? true) {
            await refresh()
        }
        if keys[kid] == nil, fetchedAt != nil,
            lastUnknownKidRefresh.map({ now - $0 >= unknownKidCooldown }) ?? true
        {
            lastUnknownKidRefresh = now
            await refresh()
        }
        guard fetchedAt != nil else { return .none }
        guard let key = keys[kid] else { return .some(nil) }
        return .some((key.algorithms, collection))
    }

    /// Fetches the set once (concurrent callers wait for the same fetch); a failure keeps the keys held.
    private func refresh() async {
        if let fetching {
            await fetching.value
            return
        }
        let task = Task { await self.load() }
        fetching = task
        await task.value
        fetching = nil
    }

    private func load() async {
        fetches += 1
        do {
            let text = try await Self.read(source, caFile: caFile)
            let (parsed, algorithms) = try Self.parse(text)
            let next = JWTKeyCollection()
            try await next.add(jwks: parsed)
            collection = next
            keys = algorithms.mapValues { Key(algorithms: $0) }
            fetchedAt = .now
            logger.info("JWKS loaded", metadata: ["source": "\(source)", "keys": "\(keys.count)"])
        } catch {
            logger.warning(
                "JWKS could not be loaded; keeping the keys held",
                metadata: ["source": "\(source)", "error": "\(error)"])
        }
    }

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    private static func read(_ source: String, caFile: String?) async throws -> String {
        guard source.hasPrefix("https://") || source.hasPrefix("http://") else {
            return try String(contentsOfFile: source, encoding: .utf8)
        }
        var configuration = HTTPClient.Configuration()
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        // A client per fetch: fetches are rare, and it is shut down before it goes.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await client.execute(HTTPClientRequest(url: source), timeout: .seconds(5))
            guard response.status.code == 200 else { throw LoadError(description: "HTTP \(response.status.code)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return String(buffer: body)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The set for jwt-kit and, per `kid`, the algorithms its key allows: its `alg` when it names one,
    /// else what its type allows (RSA: RS*/PS*; EC: by curve; OKP Ed25519: EdDSA). Keys without a `kid`
    /// or of other types are left out.
    static func parse(_ text: String) throws -> (JWKS, [String: Set<String>]) {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let list = object["keys"] as? [[String: Any]]
        else { throw LoadError(description: "not a JWKS: no 'keys' list") }
        var kept: [[String: Any]] = []
        var algorithms: [String: Set<String>] = [:]
        for key in list {
            guard let kid = key["kid"] as? String, let kty = key["kty"] as? String else { continue }
            var allowed: Set<String>
            switch (kty, key["crv"] as? String) {
            case ("RSA", _): allowed = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
            case ("EC", "P-256"): allowed = ["ES256"]
            case ("EC", "P-384"): allowed = ["ES384"]
            case ("EC", "P-521"): allowed = ["ES512"]
            case ("OKP", "Ed25519"): allowed = ["EdDSA"]
            default: continue
            }
            if let alg = key["alg"] as? String { allowed.formIntersection([alg]) }
            guard !allowed.isEmpty else { continue }
            algorithms[kid] = allowed
            kept.append(key)
        }
        let data = try JSONSerialization.data(withJSONObject: ["keys": kept])
        return (try JSONDecoder().decode(JWKS.self, from: data), algorithms)
    }
}
