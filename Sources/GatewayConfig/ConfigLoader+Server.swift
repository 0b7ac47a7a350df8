import Foundation
import Yams

/// `server:` keys beyond the listener: HTTP paths, TLS, logging, and the checks across them.
extension ConfigLoader {
    /// An HTTP path (`/healthz`) or null; `.some(nil)` for null, nil when invalid.
    static func readHTTPPath(_ node: Node, _ path: String, reader: inout NodeReader) -> String?? {
        guard let value = reader.optionalString(node, path) else { return nil }
        guard let text = value else { return .some(nil) }
        guard text.hasPrefix("/"), !text.contains("?"), !text.contains("{"), !text.contains(" ") else {
            reader.error(
                node, "\(path) must be a literal path starting with '/', not '\(text)'",
                hint: "e.g. /healthz, or null to disable it")
            return nil
        }
        return .some(text)
    }

    static func readTLS(
        _ node: Node, into server: inout ServerSettings, baseDirectory: String, reader: inout NodeReader
    ) {
        if NodeReader.isNull(node) {
            server.tls = nil
            return
        }
        guard
            let entries = reader.mapping(node, "server.tls", known: ConfigReference.tls.map(\.name))
        else { return }
        var certificate: String?
        var privateKey: String?
        for (key, _, value) in entries {
            guard let text = reader.string(value, "server.tls.\(key)") else { continue }
            let path = resolve(text, against: baseDirectory)
            if !FileManager.default.isReadableFile(atPath: path) {
                reader.error(
                    value, "server.tls.\(key): cannot read '\(path)'",
                    hint: "give the path of a PEM file (relative paths start from the config file's folder)")
                continue
            }
            if key == "certificate" { certificate = path } else { privateKey = path }
        }
        for key in ConfigReference.tls.map(\.name) where !entries.contains(where: { $0.key == key }) {
            reader.error(
                node, "server.tls has no '\(key)'", hint: "server.tls needs both certificate and private_key")
        }
        if let certificate, let privateKey {
            server.tls = TLSSettings(certificatePath: certificate, privateKeyPath: privateKey)
        }
    }

    static func readAPI(_ node: Node, into server: inout ServerSettings, reader: inout NodeReader) {
        if NodeReader.isNull(node) {
            server.api = nil
            return
        }
        guard let entries = reader.mapping(node, "server.api", known: ConfigReference.api.map(\.name)) else { return }
        var path = "/api"
        var key: String?
        var listen: ListenAddress?
        var maxBody = 1 << 20
        for (name, _, value) in entries {
            let qualified = "server.api.\(name)"
            switch name {
            case "path":
                guard let text = reader.string(value, qualified) else { continue }
                if !text.hasPrefix("/") || text.contains("?") || text.contains("{") {
                    reader.error(value, "\(qualified) must be a literal path such as /api, not '\(text)'")
                } else {
                    path = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
                }
            case "key":
                guard let text = reader.string(value, qualified) else { continue }
                if text.utf8.count < 16 {
                    reader.error(
                        value, "\(qualified) is \(text.utf8.count) bytes; an API key this short can be guessed",
                        hint:
                            "use at least 32 random characters, e.g. key: ${WSGATE_API_KEY} with `openssl rand -hex 32`"
                    )
                } else {
                    key = text
                }
            case "listen":
                guard let text = reader.string(value, qualified) else { continue }
                if let address = ListenAddress(parsing: text) {
                    listen = address
                } else {
                    reader.error(value, "\(qualified) must be host:port, not '\(text)'", hint: "e.g. 127.0.0.1:8081")
                }
            case "max_body":
                if let size = reader.size(value, qualified) { maxBody = size }
            default:
                break
            }
        }
        if !entries.contains(where: { $0.key == "key" }) {
            reader.error(node, "server.api has no 'key'", hint: "add 'key: ${WSGATE_API_KEY}'")
        }
        guard let key else { return }
        var settings = APISettings(key: key, listen: listen)
        settings.path = path
        settings.maxBody = maxBody
        server.api = settings
    }

    static func readLog(_ node: Node, into server: inout ServerSettings, reader: inout NodeReader) {
        guard
            let entries = reader.mapping(
                node, "server.log", known: ConfigReference.log.map(\.name))
        else { return }
        for (key, _, value) in entries {
            guard let text = reader.string(value, "server.log.\(key)") else { continue }
            switch key {
            case "level":
                let levels = ServerSettings.logLevels
                if levels.contains(text) {
                    server.logLevel = text
                } else {
                    reader.error(
                        value, "server.log.level '\(text)' is not a level",
                        hint: "use one of \(levels.joined(separator: ", "))")
                }
            default:
                if let format = LogFormat(rawValue: text) {
                    server.logFormat = format
                } else {
                    reader.error(
                        value, "server.log.format '\(text)' is not a format",
                        hint: "use text or json")
                }
            }
        }
    }

    /// Checks across keys: the drain window and the HTTP paths against each other and the endpoints.
    static func checkServer(_ configuration: GatewayConfiguration, at node: Node, reader: inout NodeReader) {
        let server = configuration.server
        /// Where a server key's value is written, else the `server:` mapping.
        func place(_ key: String) -> Node {
            if case .mapping(let mapping) = node,
                let entry = mapping.first(where: {
                    if case .scalar(let name) = $0.key { name.string == key } else { false }
                })
            {
                return entry.value
            }
            return node
        }
        if server.shutdownSpread > .zero && server.shutdownSpread >= server.shutdownGrace {
            reader.error(
                place("shutdown_spread"),
                "server.shutdown_spread (\(server.shutdownSpread)) is not shorter than server.shutdown_grace (\(server.shutdownGrace))",
                hint:
                    "the closes must be spread within the grace period: shorten shutdown_spread or lengthen shutdown_grace"
            )
        }
        var seen: [String: String] = [:]
        let named = [
            ("health_path", server.healthPath), ("metrics_path", server.metricsPath),
            ("console_path", server.consolePath),
        ]
        for (key, path) in named {
            guard let path else { continue }
            if let other = seen[path] {
                reader.error(
                    place(key), "server.\(key) and server.\(other) are both \(path)", hint: "give each its own path")
            }
            seen[path] = key
            if configuration.endpoints.contains(where: { $0.path == path }) {
                reader.error(
                    place(key), "server.\(key) \(path) is also an endpoint's path",
                    hint: "move the endpoint, or set server.\(key) to another path (or null)")
            }
        }
    }
}
