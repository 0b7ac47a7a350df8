/// A `ws://` or `wss://` URL, split into what a connection needs.
public struct WebSocketURL: Sendable, Equatable, CustomStringConvertible {
    /// Whether the connection uses TLS (`wss://`).
    public var secure: Bool
    /// The host name or IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port (default 80 for ws://, 443 for wss://).
    public var port: Int
    /// The request target: path and query, starting with `/`.
    public var target: String

    /// Parses `ws://host[:port][/path][?query]` or `wss://…`; `http://` and `https://` are taken as ws and wss.
    /// Nil for anything else, or a URL with user information or a fragment.
    public init?(_ text: String) {
        let schemes: [(String, Bool)] = [("ws://", false), ("wss://", true), ("http://", false), ("https://", true)]
        guard let (scheme, secure) = schemes.first(where: { text.lowercased().hasPrefix($0.0) }) else { return nil }
        self.secure = secure
        let rest = text.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let tail = rest.dropFirst(authority.count)
        guard !authority.isEmpty, !authority.contains("@"), !tail.contains("#"),
            !text.utf8.contains(where: { $0 <= 32 || $0 == 127 })
        else { return nil }
        target = tail.isEmpty ? "/" : (tail.hasPrefix("?") ? "/" + tail : String(tail))
        let defaultPort = secure ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                port = defaultPort
            } else {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    return nil
                }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else {
                return nil
            }
            port = value
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty else { return nil }
    }

    /// The URL a `Location` header names, relative to this one: an absolute URL, or a path on this host.
    public func resolving(_ location: String) -> WebSocketURL? {
        if location.hasPrefix("/") && !location.hasPrefix("//") {
            var resolved = self
            resolved.target = location
            return resolved.target.contains("#") ? nil : resolved
        }
        return WebSocketURL(location)
    }

    /// The value of the `Host` header.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// The URL as text.
    public var description: String {
        "\(secure ? "wss" : "ws")://\(hostHeader)\(target)"
    }
}
