import ArgumentParser
import Foundation
import Gateway
import GatewayConfig
import NIOCore
import NIOSSL
import WebSocketClient
import WebSocketEngine

/// `wsgate healthcheck [URL]`: exits 0 when the health endpoint answers 200, 1 otherwise. For Docker's
/// HEALTHCHECK, which has no curl in wsgate's image.
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 when a wsgate health endpoint answers 200, 1 otherwise.",
        discussion: """
            Without URL, the address comes from --config (default /etc/wsgate/wsgate.yaml when it
            exists): 127.0.0.1 and the port of server.listen, server.health_path, https when
            server.tls is set. With neither, http://127.0.0.1:8080/healthz. An https URL is checked
            without verifying the certificate (it is the local instance, often on 127.0.0.1).
            """
    )

    @Argument(help: "The health URL, e.g. http://127.0.0.1:8080/healthz.")
    var url: String?

    @Option(help: "Take the port, path and scheme from this configuration file.")
    var config: String?

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 3

    @Flag(help: "Print nothing; only the exit code tells.")
    var quiet = false

    func run() async throws {
        let target: HealthTarget
        do {
            target = try resolveTarget()
        } catch {
            if !quiet { print("unhealthy: \(error)") }
            throw ExitCode(1)
        }
        do {
            let (status, body) = try await HealthProbe.get(target, timeout: .milliseconds(Int64(timeout * 1000)))
            if !quiet { print("\(status == 200 ? "healthy" : "unhealthy"): HTTP \(status) \(body)") }
            if status != 200 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            if !quiet { print("unhealthy: \(target.description): \(error)") }
            throw ExitCode(1)
        }
    }

    private func resolveTarget() throws -> HealthTarget {
        if let url {
            guard let target = HealthTarget(url: url) else {
                throw ValidationError("URL must be http://HOST:PORT/PATH or https://…, not '\(url)'")
            }
            return target
        }
        let path = config ?? "/etc/wsgate/wsgate.yaml"
        guard config != nil || FileManager.default.fileExists(atPath: path) else {
            return HealthTarget(tls: false, host: "127.0.0.1", port: 8080, path: "/healthz")
        }
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigLoader.load(path: path, customExtensions: ExtensionRegistry.current.customNames)
        } catch {
            throw ValidationError(
                "\(path) is invalid: " + error.diagnostics.map(\.description).joined(separator: "; "))
        }
        let server = loaded.configuration.server
        guard let healthPath = server.healthPath else {
            throw ValidationError("\(path) sets server.health_path: null, so there is nothing to check")
        }
        let listen = ProcessInfo.processInfo.environment["WSGATE_LISTEN"].flatMap(ListenAddress.init(parsing:))
        return HealthTarget(
            tls: server.tls != nil, host: "127.0.0.1", port: (listen ?? server.listen).port, path: healthPath)
    }
}

/// Where the health endpoint is.
struct HealthTarget: CustomStringConvertible {
    var tls: Bool
    var host: String
    var port: Int
    var path: String

    init(tls: Bool, host: String, port: Int, path: String) {
        self.tls = tls
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `http://host:port/path` or `https://…` (port defaults 80/443, path `/`).
    init?(url: String) {
        let rest: Substring
        if url.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        guard let address = ListenAddress(authority: authority, defaultPort: tls ? 443 : 80) else { return nil }
        host = address.host
        port = address.port
    }

    var description: String { "\(tls ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)" }
}

/// One HTTP/1.1 GET on the WebSocket client's connection layer (TCP, TLS when asked), its answer read with the
/// client's response-head reader.
enum HealthProbe {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func get(_ target: HealthTarget, timeout: TimeAmount) async throws -> (status: Int, body: String) {
        guard let url = WebSocketURL(target.description) else {
            throw Failure(description: "\(target.description) is not a URL the client can reach")
        }
        var options = WebSocketClientOptions(connectTimeout: .nanoseconds(timeout.nanoseconds))
        // The local instance, often on 127.0.0.1 with a certificate for its public name: not verified.
        options.tls.certificateVerification = .none
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await WebSocketClient.openChannel(url, options: options) { channel in
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        } catch WebSocketClientError.unreachable(_, let underlying) {
            throw Failure(description: underlying)
        } catch WebSocketClientError.connectTimeout(_, let after) {
            throw Failure(description: "no connection within \(after)")
        }
        return try await withThrowingTaskGroup(of: (Int, String).self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(
                        ByteBuffer(
                            string:
                                "GET \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: wsgate-healthcheck\r\nConnection: close\r\n\r\n"
                        ))
                    var response = ByteBuffer()
                    for try await var chunk in inbound {
                        response.writeBuffer(&chunk)
                        if response.readableBytes > 64 * 1024 { break }
                    }
                    return try parse(response)
                }
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                throw Failure(description: "no answer within \(Double(timeout.nanoseconds) / 1e9) s")
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() else { throw Failure(description: "no answer") }
            return result
        }
    }

    /// The status and the body (trimmed) of a whole response read until the server closed.
    static func parse(_ response: ByteBuffer) throws -> (Int, String) {
        var buffer = response
        let head: ClientHandshake.ResponseHead?
        do {
            head = try ClientHandshake.readResponseHead(from: &buffer)
        } catch {
            throw Failure(description: "not an HTTP response: \(error.description)")
        }
        guard let head else {
            throw Failure(description: "not an HTTP response: \(String(buffer: response).prefix(80))")
        }
        return (head.status, String(buffer: buffer).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
