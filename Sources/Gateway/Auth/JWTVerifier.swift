import Foundation
import GatewayConfig
import JWTKit
import Logging

/// Verifies token signatures with jwt-kit, one key collection per algorithm the configured key allows,
/// so a token is only ever verified with the algorithm its key was made for (`alg: none`, or an HMAC
/// token against a public key, is refused before any verifier sees it).
final class JWTVerifier: Sendable {
    /// Why a configured key cannot be used.
    struct KeyError: Error, CustomStringConvertible {
        let description: String
    }

    private enum Parsed: Sendable {
        case secret(String)
        case rsa(Insecure.RSA.PublicKey)
        case es256(ES256PublicKey)
        case es384(ES384PublicKey)
        case es512(ES512PublicKey)
        case eddsa(EdDSA.PublicKey)
    }

    /// The algorithms the key verifies, by `alg` name (empty with a JWKS: each of its keys says).
    let algorithms: Set<String>
    private let collections: Task<[String: JWTKeyCollection], Never>
    /// The key set, when the key is `jwks`.
    private let jwks: JWKSKeys?

    /// Parses the key now (a bad PEM fails here, at start), and builds the collections in the background.
    init(_ key: JWTSettings.Key, logger: Logger = Logger(label: "wsgate")) throws(KeyError) {
        if case .jwks(let source, let caFile) = key {
            jwks = JWKSKeys(source: source, caFile: caFile, logger: logger)
            algorithms = []
            collections = Task { [:] }
            return
        }
        jwks = nil
        let parsed = try Self.parse(key)
        let names: [String]
        switch parsed {
        case .secret(let key):
            // An HMAC key must be at least as long as the hash output (jwt-kit asserts it): a 32-byte
            // secret verifies HS256, 48 bytes HS384 too, 64 bytes HS512 too.
            let length = key.utf8.count
            names = [("HS256", 32), ("HS384", 48), ("HS512", 64)].filter { length >= $0.1 }.map(\.0)
        case .rsa: names = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .es256: names = ["ES256"]
        case .es384: names = ["ES384"]
        case .es512: names = ["ES512"]
        case .eddsa: names = ["EdDSA"]
        }
        algorithms = Set(names)
        collections = Task {
            var result: [String: JWTKeyCollection] = [:]
            for name in names {
                let collection = JWTKeyCollection()
                let digest: DigestAlgorithm =
                    name.hasSuffix("384") ? .sha384 : name.hasSuffix("512") ? .sha512 : .sha256
                switch parsed {
                case .secret(let key): await collection.add(hmac: HMACKey(from: key), digestAlgorithm: digest)
                case .rsa(let key) where name.hasPrefix("PS"): await collection.add(pss: key, digestAlgorithm: digest)
                case .rsa(let key): await collection.add(rsa: key, digestAlgorithm: digest)
                case .es256(let key): await collection.add(ecdsa: key)
                case .es384(let key): await collection.add(ecdsa: key)
                case .es512(let key): await collection.add(ecdsa: key)
                case .eddsa(let key): await collection.add(eddsa: key)
                }
                result[name] = collection
            }
            return result
        }
    }

    private static func parse(_ key: JWTSettings.Key) throws(KeyError) -> Parsed {
        switch key {
        case .secret(let secret):
            guard secret.utf8.count >= 32 else { throw KeyError(description: "secret is shorter than 32 bytes") }
            return .secret(secret)
        case .publicKey(let path, let pem):
            if let key = try? Insecure.RSA.PublicKey(pem: pem) { return .rsa(key) }
            if let key = try? ES256PublicKey(pem: pem) { return .es256(key) }
            if let key = try? ES384PublicKey(pem: pem) { return .es384(key) }
            if let key = try? ES512PublicKey(pem: pem) { return .es512(key) }
            if let key = try? EdDSA.PublicKey(pem: pem) { return .eddsa(key) }
            throw KeyError(
                description:
                    "public_key '\(path)' is not an RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519 public key"
            )
        case .jwks:
            throw KeyError(description: "jwks is not a single key")
        }
    }

    /// The token's claims when its algorithm is allowed and its signature verifies; the time, issuer and
    /// audience are checked afterwards by ``TokenCheck``.
    func verify(_ token: String) async -> Result<Claims, AuthFailure> {
        let header: TokenHeader
        switch TokenHeader.parse(token) {
        case .success(let parsed): header = parsed
        case .failure(let failure): return .failure(failure)
        }
        let collection: JWTKeyCollection
        if let jwks {
            guard let kid = header.kid else { return .failure(.malformed("the header has no kid, which a JWKS needs")) }
            switch await jwks.key(for: kid) {
            case .none: return .failure(.keysUnavailable)
            case .some(.none): return .failure(.unknownKey)
            case .some(.some(let key)):
                guard key.algorithms.contains(header.alg) else {
                    return .failure(.algorithm(String(header.alg.prefix(16))))
                }
                collection = key.collection
            }
        } else {
            guard algorithms.contains(header.alg), let found = await collections.value[header.alg] else {
                return .failure(.algorithm(String(header.alg.prefix(16))))
            }
            collection = found
        }
        do {
            let payload = try await collection.verify(token, as: ClaimsPayload.self)
            return .success(Claims(payload.values))
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            return .failure(.signature)
        } catch {
            return .failure(.malformed("the token cannot be decoded"))
        }
    }
}

/// Every claim of a token, decoded as JSON; the checks are ``TokenCheck``'s, not jwt-kit's.
struct ClaimsPayload: JWTPayload {
    let values: [String: ClaimValue]

    init(from decoder: any Decoder) throws {
        values = try [String: ClaimValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try values.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
