import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import WebSocketClient
import WebSocketEngine

/// Runs `body` against an in-process engine server on a free port of 127.0.0.1.
func withServer(
    _ router: WebSocketRouter,
    tls: NIOSSLContext? = nil,
    _ body: (WebSocketServer, Int) async throws -> Void
) async throws {
    var initializer: (@Sendable (any Channel) throws -> Void)?
    if let tls {
        initializer = { channel in try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
    }
    let server = try await WebSocketServer.start(
        router: router, configuration: .init(host: "127.0.0.1", port: 0), channelInitializer: initializer)
    let port = server.localAddress?.port ?? 0
    do {
        try await body(server, port)
    } catch {
        await server.shutdown(grace: .seconds(1))
        throw error
    }
    await server.shutdown(grace: .seconds(1))
}

/// An echo route at `/echo` with deflate, offering the `chat` subprotocol; `/close` closes with 4002 "bye".
func echoRouter(maxMessageSize: Int = 4 << 20) throws -> WebSocketRouter {
    var router = WebSocketRouter()
    let options = WebSocketOptions(
        pingPeriod: .zero, maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize,
        extensions: [PerMessageDeflateFactory()])
    try router.webSocket("/echo", options: options, subprotocols: ["chat"]) { session in
        for await frame in session.incoming { try await session.send(frame) }
    }
    try router.webSocket("/close", options: options) { session in
        await session.close(CloseReason(CloseReason.Code(4002), "bye"))
    }
    try router.webSocket("/headers", options: options) { session in
        let seen = ["x-token", "sec-websocket-extensions", "origin"].map {
            "\($0)=\(session.request.header($0) ?? "-")"
        }
        try await session.send(seen.joined(separator: ";") + ";query=\(session.request.query)")
    }
    try router.get("/moved") { _ in
        PlainHTTPResponse(status: 302, contentType: "text/plain", text: "moved\n", headers: ["Location": "/echo"])
    }
    try router.get("/loop") { _ in
        PlainHTTPResponse(status: 307, contentType: "text/plain", text: "again\n", headers: ["Location": "/loop"])
    }
    return router
}

/// The next text message of a session, or nil when it ended.
func nextText(_ session: WebSocketSession) async -> String? {
    var iterator = session.incoming.makeAsyncIterator()
    guard case .text(let buffer) = await iterator.next() else { return nil }
    return String(buffer: buffer)
}

/// A scratch directory removed by the caller.
func scratchDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-client-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Runs a program to its end; throws when it fails.
func run(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(arguments[0]) failed"])
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, made with `openssl`.
struct SelfSignedCertificate {
    let directory: URL
    var certificatePath: String { directory.appendingPathComponent("tls.crt").path }
    var keyPath: String { directory.appendingPathComponent("tls.key").path }

    init() throws {
        directory = try scratchDirectory()
        try run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout",
            directory.appendingPathComponent("tls.key").path, "-out",
            directory.appendingPathComponent("tls.crt").path,
        ])
    }

    func serverContext() throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
