import NIOSSL

/// Where and how to connect to Redis.
///
/// Usually made from a URL: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS
/// (the system's trusted roots and the host name are checked). Percent-escapes in the user and
/// password are decoded. `${ENV}` in configuration files is expanded before the URL gets here.
public struct RedisConfiguration: Sendable {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port (default 6379).
    public var port: Int
    /// ACL user for `AUTH user password` (Redis 6 and newer); nil for `AUTH password`.
    public var username: String?
    /// Password; nil for a server without `requirepass` or ACLs.
    public var password: String?
    /// Database index for `SELECT` (default 0; pub/sub ignores it).
    public var database: Int
    /// TLS settings; nil for plain TCP. `rediss://` sets the default client configuration.
    public var tls: TLSConfiguration?
    /// How long a TCP (and TLS) connection may take (default 5 s).
    public var connectTimeout: Duration
    /// How long a command may wait for its reply (default 5 s); then it fails with
    /// ``RedisClientError/timedOut(address:command:after:)``, with the commands behind it, and the
    /// connection is closed and re-established. A ``RedisSubscriber`` also sends a `PING` this often,
    /// so that a server that stopped answering is noticed while no command is waiting. Nil waits for
    /// ever and never pings.
    public var commandTimeout: Duration?
    /// Delays between reconnection attempts.
    public var backoff: ReconnectBackoff
    /// The largest reply accepted, in bytes (default 64 MiB); a larger one closes the connection.
    public var maxReplySize: Int

    /// A configuration from its parts.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: TLSConfiguration? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration? = .seconds(5),
        backoff: ReconnectBackoff = ReconnectBackoff(),
        maxReplySize: Int = RESPParser.defaultMaxReplySize
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.backoff = backoff
        self.maxReplySize = maxReplySize
    }

    /// A configuration from a `redis://` or `rediss://` URL; the other settings take their defaults.
    public init(url: String) throws(RedisClientError) {
        let parsed = try RedisURL(url)
        self.init(
            host: parsed.host,
            port: parsed.port,
            username: parsed.username,
            password: parsed.password,
            database: parsed.database,
            tls: parsed.secure ? TLSConfiguration.makeClientConfiguration() : nil
        )
    }

    /// `host:port` as it appears in errors and logs (never the password).
    public var address: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The parts of a Redis URL.
package struct RedisURL: Sendable, Equatable {
    package var secure: Bool
    package var host: String
    package var port: Int
    package var username: String?
    package var password: String?
    package var database: Int

    package init(_ url: String) throws(RedisClientError) {
        func fail(_ reason: String) -> RedisClientError { .invalidURL(Self.redacted(url), reason: reason) }
        let lowered = url.lowercased()
        let rest: Substring
        if lowered.hasPrefix("redis://") {
            secure = false
            rest = url.dropFirst("redis://".count)
        } else if lowered.hasPrefix("rediss://") {
            secure = true
            rest = url.dropFirst("rediss://".count)
        } else {
            throw fail("the scheme must be redis:// or rediss://")
        }
        if rest.contains("?") || rest.contains("#") { throw fail("query parameters and fragments are not supported") }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        let path = rest[slash...].dropFirst()

        username = nil
        password = nil
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = try Self.percentDecoded(userInfo[..<colon], fail)
                username = user.isEmpty ? nil : user
                password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...], fail)
            } else if !userInfo.isEmpty {
                // `redis://secret@host` is the password alone, as redis-cli and most clients read it.
                password = try Self.percentDecoded(userInfo, fail)
            }
        }

        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("an IPv6 address needs its closing ']'") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected '\(after)' after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        } else {
            port = 6379
        }
        if path.isEmpty {
            database = 0
        } else {
            guard let number = Int(path), number >= 0 else { throw fail("database '\(path)' is not a number from 0") }
            database = number
        }
    }

    /// The URL with its password replaced by `***`, for messages.
    package static func redacted(_ url: String) -> String {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let at = parts[1].lastIndex(of: "@") else { return url }
        let userInfo = parts[1][..<at]
        guard !userInfo.isEmpty else { return url }
        let user = userInfo.firstIndex(of: ":").map { String(userInfo[..<$0]) + ":" } ?? ""
        return parts[0] + "://" + user + "***" + parts[1][at...]
    }

    private static func percentDecoded(
        _ text: Substring,
        _ fail: (String) -> RedisClientError
    ) throws(RedisClientError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw fail("a '%' in the user or password must start an escape such as %40")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
