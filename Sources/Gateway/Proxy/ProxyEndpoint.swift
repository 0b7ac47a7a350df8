import GatewayConfig
import Logging
import NIOSSL
import Synchronization
import WebSocketClient
import WebSocketEngine

/// `type: proxy`: each client session opens one session to an upstream (round robin over `upstream`)
/// during the handshake, so an unreachable upstream answers 502 (504 on a timeout) before the client's 101;
/// then messages pass both ways, each direction waiting for the other side's send (backpressure), and the
/// first close passes to the other side.
final class ProxyEndpoint: Sendable {
    let settings: ProxySettings
    let path: String
    let secure: Bool
    let options: WebSocketOptions
    let logger: Logger
    private let turn = Atomic<Int>(0)
    /// TLS towards wss:// upstreams: the system's roots, or `ca_file`'s certificates.
    private let tls: TLSConfiguration
    /// `headers:`, in name order, their values parsed once.
    private let setHeaders: [(name: String, value: Template)]

    init(
        settings: ProxySettings, path: String, options: WebSocketOptions, secure: Bool, logger: Logger
    ) throws {
        self.settings = settings
        self.path = path
        self.options = options
        self.secure = secure
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        if let file = settings.caFile {
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(file)
            } catch {
                throw GatewayError("endpoint \(path): ca_file: cannot read PEM certificates from \(file) (\(error))")
            }
            guard !roots.isEmpty else {
                throw GatewayError("endpoint \(path): ca_file: \(file) holds no certificate")
            }
            tls.trustRoots = .certificates(roots)
        }
        self.tls = tls
        setHeaders = settings.headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: Template($0.value)) }
    }

    /// Connects to the next upstream; grants the upstream session, or refuses with 502 or 504. With
    /// `claims` (of the token `auth:` verified), `headers` fill their `{claims.NAME}` and the token's
    /// query parameters (`tokenQuery`) and bearer subprotocol stay here.
    func admit(_ request: WebSocketRequest, claims: Claims? = nil, tokenQuery: [String] = []) async -> Admission {
        guard !settings.upstreams.isEmpty else {
            return .refuse(
                AdmissionRefusal(status: 502, message: "No upstream is configured.", reason: "upstream_error"))
        }
        let index = turn.add(1, ordering: .relaxed).oldValue
        let upstream = settings.upstreams[index % settings.upstreams.count]
        let set = setHeaders.map { header in
            ProxyRequest.HTTPField(name: header.name, value: header.value.render { claims?.field($0) ?? "" })
        }
        let plan = ProxyRequest(
            upstream: upstream, request: request, passHeaders: settings.passHeaders, set: set,
            withoutQuery: claims == nil ? [] : tokenQuery, withoutBearer: claims != nil, secure: secure)
        var upstreamOptions = options
        upstreamOptions.extensions = []
        let clientOptions = WebSocketClientOptions(
            webSocket: upstreamOptions,
            deflate: nil,
            connectTimeout: settings.connectTimeout,
            handshakeTimeout: settings.connectTimeout,
            tls: tls
        )
        do {
            let session = try await WebSocketClient.connect(
                url: plan.url, options: clientOptions, headers: plan.headers.map { (name: $0.name, value: $0.value) },
                subprotocols: plan.subprotocols)
            return .grant(
                AdmissionGrant(
                    value: Admitted(claims: claims, upstream: session),
                    subprotocol: .some(session.request.subprotocol),
                    abandoned: {
                        Task { await session.close(CloseReason(.goingAway, "client went away")) }
                    }))
        } catch let error as WebSocketClientError {
            logger.warning(
                "upstream refused or unreachable",
                metadata: ["endpoint": "\(path)", "upstream": "\(upstream)", "error": "\(error)"])
            switch error {
            case .connectTimeout, .handshakeTimeout:
                return .refuse(
                    AdmissionRefusal(
                        status: 504, message: "The upstream did not answer in time; retry later.",
                        reason: "upstream_timeout"))
            default:
                return .refuse(
                    AdmissionRefusal(
                        status: 502, message: "The upstream cannot be reached; retry later.",
                        reason: "upstream_unreachable"))
            }
        } catch {
            return .refuse(
                AdmissionRefusal(
                    status: 502, message: "The upstream cannot be reached.", reason: "upstream_unreachable"))
        }
    }

    /// Pumps both directions until both sides are closed.
    func handle(_ client: WebSocketSession) async throws {
        guard let upstream = client.request.upstream else {
            await client.close(CloseReason(.internalError, "no upstream session"))
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await Self.pump(from: client, to: upstream, towardsClient: false) }
            group.addTask { await Self.pump(from: upstream, to: client, towardsClient: true) }
        }
    }

    /// Sends every message of `source` to `target`; a send that waits stops reading `source`. When `source`
    /// ends, `target` is closed with its close reason.
    static func pump(from source: WebSocketSession, to target: WebSocketSession, towardsClient: Bool) async {
        for await frame in source.incoming {
            do {
                try await target.send(frame)
            } catch {
                // The target is closing: its own pump passes its close on; stop reading this side.
                break
            }
        }
        let reason = await source.closeReason
        await target.close(ProxyClose.forward(reason, towardsClient: towardsClient))
    }
}
