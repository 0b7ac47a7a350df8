import Foundation
import Gateway
import GatewayConfig
import Logging
import WebSocketClient
import WebSocketEngine
import WebSocketTesting

/// Runs conversations against a gateway configuration served in-process on 127.0.0.1 and an
/// ephemeral port (`wsgate test`), or against a running deployment (`wsgate test --url`).
public struct ConversationRunner: Sendable {
    /// The configuration under test (unused when ``deployment`` is set).
    public var configuration: GatewayConfiguration
    /// A running deployment to hold the conversations with instead of an in-process gateway: each client's
    /// `endpoint` and `query` are appended to this URL's path. Nil serves ``configuration`` in-process.
    public var deployment: WebSocketURL?
    /// How the clients connect to ``deployment`` (TLS trust roots, timeouts, permessage-deflate).
    public var clientOptions: WebSocketClientOptions
    /// Where the extensions the configuration names come from.
    public var extensions: ExtensionRegistry
    /// The gateway's log.
    public var logger: Logger

    public init(
        configuration: GatewayConfiguration,
        extensions: ExtensionRegistry = ExtensionRegistry.current,
        logger: Logger = Logger(label: "wsgate-test")
    ) {
        self.configuration = configuration
        self.extensions = extensions
        self.logger = logger
        self.deployment = nil
        self.clientOptions = WebSocketClientOptions()
    }

    /// A runner that holds the conversations with a running deployment at `url` (ws:// or wss://); the
    /// configuration is not read, and nothing starts afresh between conversations.
    public init(
        deployment url: WebSocketURL,
        clientOptions: WebSocketClientOptions = WebSocketClientOptions(),
        logger: Logger = Logger(label: "wsgate-test")
    ) {
        self.init(configuration: GatewayConfiguration(), logger: logger)
        self.deployment = url
        self.clientOptions = clientOptions
    }

    /// Checks that the configuration's endpoints can be built (extensions known, paths routable).
    public func checkConfiguration() throws {
        _ = try GatewayApplication(configuration, extensions: extensions, logger: logger)
    }

    /// Runs one conversation against a gateway of its own, so rooms, their history, `{n}` counters and
    /// shared processes start afresh for every conversation; stops at the first step that fails.
    public func run(_ conversation: Conversation) async -> ConversationResult {
        let start = ContinuousClock.now
        var failure: ConversationResult.Failure?
        if let deployment {
            var session = ConversationSession(
                conversation: conversation, target: .deployment(deployment, clientOptions))
            failure = await session.run()
            await session.disconnectAll()
            return ConversationResult(
                name: conversation.name, file: conversation.file, duration: ContinuousClock.now - start,
                failure: failure)
        }
        do {
            let application = try GatewayApplication(configuration, extensions: extensions, logger: logger)
            let server = try await WebSocketServer.start(
                router: application.router,
                configuration: Gateway.serverConfiguration(
                    for: configuration, listen: ListenAddress(host: "127.0.0.1", port: 0)),
                logger: logger
            )
            application.start()
            var session = ConversationSession(conversation: conversation, target: .local(port: server.port))
            failure = await session.run()
            await session.disconnectAll()
            await server.shutdown(grace: .seconds(1))
            await application.shutdown()
        } catch {
            failure = ConversationResult.Failure(
                kind: .invalid,
                location: SourceLocation(file: conversation.file, line: 1, column: 1),
                summary: "cannot start the gateway: \(error)"
            )
        }
        return ConversationResult(
            name: conversation.name, file: conversation.file, duration: ContinuousClock.now - start, failure: failure)
    }
}

/// The clients of one running conversation and the steps that drive them.
struct ConversationSession {
    let conversation: Conversation
    let target: ConversationTarget
    private var connections: [String: any ConversationConnection] = [:]

    init(conversation: Conversation, target: ConversationTarget) {
        self.conversation = conversation
        self.target = target
    }

    /// Runs the steps in order; the failure of the first step that did not get what it expected.
    mutating func run() async -> ConversationResult.Failure? {
        let namingClient = conversation.clients.count > 1
        for (index, step) in conversation.steps.enumerated() {
            guard let (expected, actual) = await perform(step) else { continue }
            return ConversationResult.Failure(
                step: step, number: index + 1, namingClient: namingClient, expected: expected, actual: actual)
        }
        return nil
    }

    mutating func disconnectAll() async {
        for client in connections.values { await client.disconnect() }
        connections = [:]
    }

    /// Performs a step: nil when it got what it expected, else what it expected and what happened.
    private mutating func perform(_ step: Step) async -> (expected: String, actual: String)? {
        guard let spec = conversation.clients.first(where: { $0.name == step.client }) else {
            return ("a declared client", "no client named '\(step.client)'")
        }
        switch step.action {
        case .wait(let duration):
            try? await Task.sleep(for: duration)
            return nil
        case .expectStatus(let status):
            return await refused(spec, status: status, timeout: step.timeout)
        default:
            break
        }
        // A `connect` step's timeout is for its handshake; a step that connects on the way (its client's first
        // step) gives the handshake at least the default, so a short `expect` timeout times the reply only.
        let handshakeTimeout: Duration
        switch step.action {
        case .connect: handshakeTimeout = step.timeout
        default: handshakeTimeout = max(step.timeout, Conversation.defaultTimeout)
        }
        let client: any ConversationConnection
        switch await connection(spec, timeout: handshakeTimeout) {
        case .success(let connected): client = connected
        case .failure(let problem): return ("the handshake to succeed (HTTP 101)", problem.actual)
        }
        switch step.action {
        case .connect(let headers):
            for header in headers where client.responseHeaders[header.name] != header.value {
                let actual = client.responseHeaders[header.name].map { "\(header.name): \($0)" }
                return ("\(header.name): \(header.value)", actual ?? "no \(header.name) header")
            }
            return nil
        case .send(let payload):
            let frame: Frame
            switch payload {
            case .text(let text): frame = .text(text)
            case .binary(let bytes): frame = .binary(bytes)
            }
            do {
                try await client.send(frame)
                return nil
            } catch {
                return ("to send \(StepMatcher.describe(frame))", "the connection is closed")
            }
        case .expect(let expectation):
            let expected = StepMatcher.describe(expectation)
            switch await Self.nextFrame(client, within: step.timeout) {
            case .frame(let frame):
                return StepMatcher.matches(expectation, frame) ? nil : (expected, StepMatcher.describe(frame))
            case let other: return (expected, other.actual(timeout: step.timeout))
            }
        case .expectClose(let code, let reason):
            let expected = StepMatcher.describeClose(code: code, reason: reason)
            switch await Self.nextFrame(client, within: step.timeout) {
            case .frame(let frame):
                return StepMatcher.matchesClose(code: code, reason: reason, frame)
                    ? nil : (expected, StepMatcher.describe(frame))
            case let other: return (expected, other.actual(timeout: step.timeout))
            }
        case .expectSilence(let duration):
            let expected = "no message for \(StepMatcher.describe(duration))"
            switch await Self.nextFrame(client, within: duration) {
            case .timeout: return nil
            case .frame(let frame): return (expected, StepMatcher.describe(frame))
            case .disconnected: return (expected, Arrival.disconnected.actual(timeout: duration))
            }
        case .close(let code, let reason):
            do {
                try await client.send(.close(CloseReason(CloseReason.Code(UInt16(clamping: code)), reason)))
                return nil
            } catch {
                return ("to send close \(code)", "the connection is closed")
            }
        case .disconnect:
            await client.disconnect()
            return nil
        case .wait, .expectStatus:
            return nil
        }
    }

    /// Why a connection could not be opened.
    struct ConnectProblem: Error {
        /// The HTTP status of a refused handshake.
        var status: Int? = nil
        let actual: String
    }

    /// The client's connection, opened now if this is its first step.
    private mutating func connection(
        _ spec: Conversation.Client, timeout: Duration
    ) async -> Result<any ConversationConnection, ConnectProblem> {
        if let open = connections[spec.name] { return .success(open) }
        switch await Self.connect(spec, target: target, timeout: timeout) {
        case .success(let client):
            connections[spec.name] = client
            return .success(client)
        case .failure(let problem):
            return .failure(problem)
        }
    }

    /// `expect_status`: the handshake must be refused with `status`.
    private mutating func refused(
        _ spec: Conversation.Client, status: Int, timeout: Duration
    ) async -> (expected: String, actual: String)? {
        let expected = "the handshake refused with HTTP \(status)"
        switch await Self.connect(spec, target: target, timeout: timeout) {
        case .success(let client):
            await client.disconnect()
            return (expected, "HTTP 101: the handshake was accepted")
        case .failure(let problem):
            return problem.status == status ? nil : (expected, problem.actual)
        }
    }

    static func connect(
        _ spec: Conversation.Client, target: ConversationTarget, timeout: Duration
    ) async -> Result<any ConversationConnection, ConnectProblem> {
        let attempt: Result<any ConversationConnection, any Error>?
        switch target {
        case .local(let port):
            let headers = spec.headers.map { ($0.name, $0.value) }
            attempt = await firstResult(within: timeout) {
                try await WebSocketTestClient.connect(port: port, path: spec.target, headers: headers)
            }
        case .deployment(let base, let options):
            let url = ConversationTarget.url(base, target: spec.target)
            // The client offers subprotocols itself; the file's offer arrives as a `Sec-WebSocket-Protocol` field.
            let offered = spec.headers.filter { $0.name.lowercased() == "sec-websocket-protocol" }
            let subprotocols = offered.flatMap { $0.value.split(separator: ",") }.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            let headers = spec.headers.filter { $0.name.lowercased() != "sec-websocket-protocol" }.map {
                (name: $0.name, value: $0.value)
            }
            // As in-process, an extension is offered only when the file offers it; this client knows permessage-deflate.
            var settings = options
            let extensions = spec.headers.filter { $0.name.lowercased() == "sec-websocket-extensions" }
            if !extensions.contains(where: { $0.value.lowercased().contains("permessage-deflate") }) {
                settings.deflate = nil
            }
            let options = settings
            attempt = await firstResult(within: timeout) {
                let session = try await WebSocketClient.connect(
                    url: url.description, options: options, headers: headers, subprotocols: subprotocols)
                return SessionConnection(session: session)
            }
        }
        switch attempt {
        case nil:
            return .failure(ConnectProblem(actual: "no handshake response within \(StepMatcher.describe(timeout))"))
        case .success(let client):
            return .success(client)
        case .failure(WebSocketTestClient.ClientError.handshakeRefused(let status, _, let body)):
            let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(
                ConnectProblem(
                    status: status, actual: "HTTP \(status)" + (trimmed.isEmpty ? "" : " \(StepMatcher.quote(trimmed))")
                ))
        case .failure(WebSocketClientError.refused(let status, let reason, _)):
            return .failure(
                ConnectProblem(status: status, actual: "HTTP \(status)" + (reason.isEmpty ? "" : " \(reason)")))
        case .failure(let error):
            return .failure(ConnectProblem(actual: "cannot connect: \(error)"))
        }
    }

    /// What arrived while a step waited.
    enum Arrival {
        case frame(Frame)
        case timeout
        case disconnected

        func actual(timeout: Duration) -> String {
            switch self {
            case .frame(let frame): return StepMatcher.describe(frame)
            case .timeout:
                return
                    "nothing within \(StepMatcher.describe(timeout)) (the step's timeout; set 'timeout:' on the step or the file to wait longer)"
            case .disconnected: return "the connection closed without a close frame"
            }
        }
    }

    /// The next frame other than a ping or pong (the client answers pings itself).
    static func nextFrame(_ client: any ConversationConnection, within timeout: Duration) async -> Arrival {
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return .timeout }
            do {
                switch try await client.receive(timeout: remaining) {
                case .ping, .pong: continue
                case let frame: return .frame(frame)
                }
            } catch WebSocketTestClient.ClientError.timeout {
                return .timeout
            } catch {
                return .disconnected
            }
        }
    }
}
