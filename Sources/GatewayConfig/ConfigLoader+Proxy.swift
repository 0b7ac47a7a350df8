import Foundation
import Yams

/// The keys of `type: proxy`.
extension ConfigLoader {
    static func readProxyKey(
        _ key: String,
        _ value: Node,
        _ name: String,
        into settings: inout ProxySettings,
        reader: inout NodeReader
    ) {
        switch key {
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
        default:
            break
        }
    }

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
