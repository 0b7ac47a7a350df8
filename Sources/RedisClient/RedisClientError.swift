/// Why a Redis operation failed, worded for the person running the gateway.
public enum RedisClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A `redis://` or `rediss://` URL that cannot be used: the URL (password hidden) and why.
    case invalidURL(String, reason: String)
    /// No connection could be made (refused, timed out, TLS failed): the address and the cause.
    case connectionFailed(address: String, reason: String)
    /// The server refused the credentials (`WRONGPASS`, or `AUTH` without a password set).
    case authenticationFailed(address: String, message: String)
    /// The server wants a password and the URL has none (`NOAUTH`).
    case authenticationRequired(address: String)
    /// The connection is down and being re-established; nothing was sent.
    case notConnected(address: String)
    /// The connection closed with the command in flight: it may or may not have run.
    case connectionClosed(address: String)
    /// No reply within ``RedisConfiguration/commandTimeout``: the command (and those behind it) failed
    /// and the connection was closed, to be re-established. The command may or may not have run.
    case timedOut(address: String, command: String, after: Duration)
    /// The server sent bytes that are not RESP2; the connection was closed.
    case protocolError(RESPParserError)
    /// The server answered a command with an error reply (`ERR …`, `WRONGTYPE …`).
    case reply(command: String, message: String)
    /// The client or subscriber was closed by its owner.
    case closed

    /// What went wrong and, where there is one, what to do.
    public var description: String {
        switch self {
        case .invalidURL(let url, let reason):
            "invalid Redis URL '\(url)': \(reason); write redis://[user:password@]host[:port][/db] or rediss://… for TLS"
        case .connectionFailed(let address, let reason):
            "cannot connect to Redis at \(address): \(reason)"
        case .authenticationFailed(let address, let message):
            "Redis at \(address) refused the credentials: \(message); check the user and password in the URL"
        case .authenticationRequired(let address):
            "Redis at \(address) requires a password: write redis://:password@host or redis://user:password@host"
        case .notConnected(let address):
            "not connected to Redis at \(address) (reconnecting)"
        case .connectionClosed(let address):
            "the connection to Redis at \(address) closed before the reply arrived"
        case .timedOut(let address, let command, let after):
            "Redis at \(address) did not answer \(command) within \(Self.describe(after)); the connection was "
                + "closed and is being re-established (a stuck or overloaded server?)"
        case .protocolError(let error):
            error.description
        case .reply(let command, let message):
            "Redis answered \(command) with an error: \(message)"
        case .closed:
            "the Redis client was closed"
        }
    }

    /// `5s`, `250ms`.
    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// True for an error reply whose code (its first word) is `code`, such as `NOSCRIPT`.
    public func isReply(code: String) -> Bool {
        if case .reply(_, let message) = self {
            return message.split(separator: " ", maxSplits: 1).first.map(String.init) == code
        }
        return false
    }
}
