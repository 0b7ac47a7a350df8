import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import WebSocketEngine

/// One endpoint built from its configuration: its route's parts, its state (a room hub, a shared
/// process) and the sessions it is serving, so a reload can keep it, or close its sessions when it is
/// removed or changed.
final class EndpointRuntime: Sendable {
    let path: String
    let settings: EndpointSettings
    let kind: EndpointKind
    let options: WebSocketOptions
    let admission: WebSocketAdmission?
    /// The token check of `auth:` or the upstream connection of `type: proxy`, run before the 101
    /// (after `admission`).
    let asyncAdmission: WebSocketAsyncAdmission?
    /// `auth.jwt.leeway` in seconds: a session closes at its token's `exp` plus this.
    private let leeway: Double
    let hub: RoomHub?
    /// The broadcast endpoint, for the backend API.
    let broadcast: BroadcastEndpoint?
    private let shared: SharedProcess?
    private let processes: ProcessEndpoint?
    /// Serves a session with a task (process, proxy).
    private let serve: WebSocketHandler?
    /// Serves a session with callbacks on its event loop (echo, broadcast): no task per session.
    private let serveOnLoop: WebSocketLoopHandler?
    private let sessions = NIOLockedValueBox<[ObjectIdentifier: WebSocketSession]>([:])
    /// Set once ``closeSessions(_:)`` ran (a reload retired this runtime): a session whose handler starts
    /// only now (its 101 went out just before the reload) is closed with the same reason at once.
    private let retired = NIOLockedValueBox<CloseReason?>(nil)

    init(
        _ endpoint: EndpointConfiguration,
        extensions: ExtensionRegistry,
        logger: Logger,
        broker: GatewayBroker? = nil,
        secure: Bool = false
    ) throws {
        path = endpoint.path
        settings = endpoint.settings
        kind = endpoint.kind
        var options = endpoint.settings.options
        options.extensions = try extensions.factories(for: endpoint.settings.extensions)
        self.options = options
        var admission: WebSocketAdmission?
        var asyncAdmission: WebSocketAsyncAdmission?
        var hub: RoomHub?
        var shared: SharedProcess?
        var processes: ProcessEndpoint?
        var broadcastEndpoint: BroadcastEndpoint?
        var proxyEndpoint: ProxyEndpoint?
        // The session's number on its endpoint, taken at admission (see ``Admitted``); with `auth:`, after
        // the token passed.
        var number: (@Sendable (Claims?) -> Int?)?
        var roomOf: @Sendable (WebSocketRequest, Claims) -> String? = { _, _ in nil }
        var serveOnLoop: WebSocketLoopHandler?
        switch endpoint.kind {
        case .echo(let settings):
            let echo = EchoEndpoint(settings: settings)
            serveOnLoop = { session in echo.start(session) }
            serve = nil
        case .broadcast(let settings):
            let broadcast = BroadcastEndpoint(settings: settings, endpoint: endpoint.path, broker: broker)
            hub = broadcast.hub
            broadcastEndpoint = broadcast
            roomOf = { request, claims in broadcast.roomName(request, claims: claims) }
            if broadcast.numbersMembers {
                // A member the backend names (a webhook's `name`) takes no number.
                number = { claims in claims?.memberName == nil ? broadcast.hub.nextMemberNumber() : nil }
            }
            serveOnLoop = { session in broadcast.start(session) }
            serve = nil
        case .process(let settings) where settings.shared:
            let process = SharedProcess(
                settings: settings, path: endpoint.path, maxMessageSize: options.maxMessageSize, logger: logger)
            shared = process
            hub = process.hub
            let connections = ConnectionCounter()
            number = { _ in connections.next() }
            serve = { session in try await process.handle(session, connection: session.request.sessionNumber ?? 0) }
        case .staticFiles:
            // Files are a plain HTTP tree (`StaticFiles`), routed by `GatewayApplication`, never a session.
            throw GatewayError("endpoint \(endpoint.path) serves files, not WebSocket sessions")
        case .proxy(let settings):
            let proxy = try ProxyEndpoint(
                settings: settings, path: endpoint.path, options: options, secure: secure, logger: logger)
            proxyEndpoint = proxy
            asyncAdmission = { request in await proxy.admit(request) }
            serve = { session in try await proxy.handle(session) }
        case .process(let settings):
            let process = ProcessEndpoint(
                settings: settings, path: endpoint.path, maxMessageSize: options.maxMessageSize, logger: logger)
            processes = process
            admission = { request in process.admit(request) }
            serve = { session in try await process.handle(session) }
        }
        if let settings = endpoint.settings.auth {
            let auth = try EndpointAuth(endpoint: endpoint.path, settings: settings, logger: logger, room: roomOf)
            // A process slot is taken only once the token passed, and given back if the client left meanwhile.
            var release: (@Sendable () -> Void)?
            if let processes { release = { processes.release() } }
            if let proxy = proxyEndpoint {
                // The upstream is asked only once the token passed, with its claims in `headers:`.
                let tokenQuery = auth.tokenQueryParameters
                asyncAdmission = auth.admission { request, claims in
                    await proxy.admit(request, claims: claims, tokenQuery: tokenQuery)
                }
            } else if let number {
                asyncAdmission = auth.admission { _, claims in
                    .grant(AdmissionGrant(value: Admitted(claims: claims, number: number(claims))))
                }
            } else {
                asyncAdmission = auth.admission(then: admission, release: release)
            }
            admission = nil
            leeway = auth.check.leeway
        } else {
            if let number { admission = { _ in .grant(AdmissionGrant(value: Admitted(number: number(nil)))) } }
            leeway = 0
        }
        self.serveOnLoop = serveOnLoop
        self.admission = admission
        self.asyncAdmission = asyncAdmission
        self.broadcast = broadcastEndpoint
        self.hub = hub
        self.shared = shared
        self.processes = processes
    }

    /// Whether this runtime already serves `endpoint` as configured (a reload may keep it).
    func serves(_ endpoint: EndpointConfiguration) -> Bool {
        endpoint.path == path && endpoint.settings == settings && endpoint.kind == kind
    }

    /// How the router serves this endpoint's sessions: on their event loop (echo, broadcast) or by a task.
    var serving: WebSocketRouter.Serving {
        // Echo and rooms read no header after the handshake (auth and the webhook see them before it).
        if let serveOnLoop { .loop(loopHandler(serveOnLoop), keepsHeaders: false) } else { .task(handler) }
    }

    /// Lists a starting session, or says the reason it came too late (a reload retired this runtime), under
    /// one lock with ``closeSessions(_:)``: none slips between.
    private func list(_ session: WebSocketSession) -> CloseReason? {
        sessions.withLockedValue { all in
            if let reason = retired.withLockedValue({ $0 }) { return reason }
            all[ObjectIdentifier(session)] = session
            return nil
        }
    }

    /// The task handler (process, proxy): serves the session and keeps it listed while it runs.
    private var handler: WebSocketHandler {
        { [self] session in
            if let late = list(session) {
                await session.close(late)
                await session.request.upstream?.close(late)
                return
            }
            let expiry = EndpointAuth.expiryTimer(for: session, leeway: leeway)
            defer {
                expiry?.cancel()
                _ = sessions.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(session)) }
            }
            try await serve?(session)
        }
    }

    /// The loop-driven handler (echo, broadcast): serves the session and keeps it listed until its connection
    /// ends.
    private func loopHandler(_ serveOnLoop: @escaping WebSocketLoopHandler) -> WebSocketLoopHandler {
        { [self] session in
            if let late = list(session) {
                session.closeOnLoop(late)
                return WebSocketLoopCallbacks(onMessage: { _ in })
            }
            let expiry = EndpointAuth.expiryTimer(for: session, leeway: leeway)
            let callbacks = serveOnLoop(session)
            return WebSocketLoopCallbacks(
                onMessage: callbacks.onMessage,
                onClose: { [self] reason in
                    expiry?.cancel()
                    _ = sessions.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(session)) }
                    callbacks.onClose(reason)
                })
        }
    }

    /// Sessions whose handler is still running (or, served on the loop, whose connection is open).
    var activeSessions: Int { sessions.withLockedValue { $0.count } }

    /// Whether its sessions share state (a room, a shared process): if it changes on reload, its
    /// sessions are closed so that everyone reconnects into the new one instead of splitting the room.
    var sharesState: Bool { hub != nil }

    func start() {
        shared?.start()
    }

    /// Closes every session with `reason` (1001 on reload or removal).
    func closeSessions(_ reason: CloseReason) async {
        let open = sessions.withLockedValue { all in
            retired.withLockedValue { $0 = reason }
            return Array(all.values)
        }
        await withTaskGroup(of: Void.self) { group in
            for session in open { group.addTask { await session.close(reason) } }
        }
    }

    /// Stops the shared process and kills per-connection processes still running.
    func stop() async {
        await shared?.stop()
        processes?.killAll()
    }
}
