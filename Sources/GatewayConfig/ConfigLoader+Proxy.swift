import Foundation
import Yams

/// The keys of `type: proxy`.
extension ConfigLoader {
    static func readProxyKey(
        _ key: String,
        _ value: Node,
        _ name: String,
        into settings: inout ProxySettings,
        baseDirectory: String,
        reader: inout NodeReader
    ) {
        switch key {
        case "ca_file":
            guard let text = reader.string(value, name) else { return }
            let path = resolve(text, against: baseDirectory)
            guard FileManager.default.isReadableFile(atPath: path) else {
                reader.error(
                    value, "\(name): cannot read '\(path)'",
                    hint: "give a PEM file of CA certificates (relative paths start from the config file's folder)")
                return
            }
            settings.caFile = path
        case "upstream":
            let items: [Node]
            if case .sequence(let sequence) = value { items = Array(sequence) } else { items = [value] }
            if items.isEmpty {
                reader.error(value, "\(name) is an empty list", hint: "name at least one ws:// or wss:// URL")
            }
            var upstreams: [String] = []
            for item in items {
                guard let text = reader.string(item, name) else { return }
                if let problem = upstreamProblem(text) {
                    reader.error(item, "\(name): \(problem)", hint: "write e.g. 'ws://backend:9000/live' or 'wss://…'")
                    return
                }
                upstreams.append(text)
            }
            settings.upstreams = upstreams
        case "connect_timeout":
            guard let duration = reader.duration(value, name) else { return }
            if duration <= .zero {
                reader.error(value, "\(name) must be longer than 0", hint: "e.g. 'connect_timeout: 5s'")
            } else {
                settings.connectTimeout = duration
            }
        case "pass_headers":
            guard let names = reader.stringList(value, name) else { return }
            for header in names where header.isEmpty || !header.utf8.allSatisfy(isTokenByte) {
                reader.error(value, "\(name): '\(header)' is not a header name", hint: "e.g. [Authorization, Cookie]")
                return
            }
            settings.passHeaders = names
        case "headers":
            guard case .mapping(let mapping) = value else {
                reader.error(
                    value, "\(name) must be a mapping of header names to values",
                    hint: "e.g. headers: { X-User-Id: \"{claims.sub}\" }")
                return
            }
            for (keyNode, valueNode) in mapping {
                let header = keyNode.string ?? ""
                guard let text = reader.string(valueNode, "\(name).\(header)") else { continue }
                if header.isEmpty || !header.utf8.allSatisfy(isTokenByte) {
                    reader.error(keyNode, "\(name): '\(header)' is not a header name", hint: "e.g. X-User-Id")
                } else if reservedUpstreamHeaders.contains(header.lowercased()) {
                    reader.error(
                        keyNode, "\(name): '\(header)' is set by the proxy itself",
                        hint: "choose another name, e.g. X-User-Id")
                } else if text.utf8.contains(where: { $0 < 32 || $0 == 127 }) {
                    reader.error(valueNode, "\(name).\(header) has a control character", hint: "write it on one line")
                } else {
                    settings.headers[header] = text
                }
            }
        default:
            break
        }
    }

    /// `headers` values may use `{claims.NAME}`, and only on an endpoint that checks tokens.
    static func checkProxyHeaders(
        _ settings: ProxySettings,
        entries: [(key: String, keyNode: Node, value: Node)],
        _ path: String,
        claims: Bool,
        reader: inout NodeReader
    ) {
        guard let node = entries.first(where: { $0.key == "headers" })?.value else { return }
        for (header, text) in settings.headers.sorted(by: { $0.key < $1.key }) {
            for placeholder in placeholders(in: text) {
                if placeholder.hasPrefix("claims."), placeholder.count > 7 {
                    if !claims {
                        reader.error(
                            node, "\(path).headers.\(header) uses {\(placeholder)}, but the endpoint checks no token",
                            hint: "add 'auth: { jwt: … }' to the endpoint (or to defaults:) so it has claims")
                    }
                } else {
                    reader.error(
                        node, "\(path).headers.\(header) uses {\(placeholder)}, which it cannot fill",
                        hint: "it can use {claims.NAME}")
                }
            }
        }
    }

    /// Header fields the proxy's own upstream request owns (the handshake, framing and forwarding).
    static let reservedUpstreamHeaders: Set<String> = [
        "host", "upgrade", "connection", "content-length", "transfer-encoding", "sec-websocket-key",
        "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions", "x-forwarded-for",
        "x-forwarded-proto", "x-forwarded-host",
    ]

    /// Why `text` is not a usable upstream URL, or nil.
    static func upstreamProblem(_ text: String) -> String? {
        let lower = text.lowercased()
        guard lower.hasPrefix("ws://") || lower.hasPrefix("wss://") else {
            return "'\(text)' is not a ws:// or wss:// URL"
        }
        let rest = text.drop { $0 != "/" }.dropFirst(2)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        if authority.isEmpty { return "'\(text)' has no host" }
        if authority.contains("@") { return "'\(text)' has user information; pass credentials with pass_headers" }
        if text.contains("#") { return "'\(text)' has a fragment" }
        if text.utf8.contains(where: { $0 <= 32 || $0 == 127 }) { return "'\(text)' has a space or control character" }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else {
                return "'\(text)' has an invalid port"
            }
        }
        return nil
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
