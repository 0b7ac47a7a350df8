import WebSocketEngine

/// What a gateway endpoint's admission hands to its session (as ``WebSocketEngine/WebSocketRequest/admitted``):
/// the verified token's claims, and the session's number on its endpoint (a room member's `{n}`, a shared
/// process's `{connection}`) taken before the 101, so sessions are numbered in the order their handshakes
/// were answered rather than the order their handlers happen to start.
struct Admitted: Sendable {
    var claims: Claims?
    var number: Int?
    /// The upstream session `type: proxy` opened for this client.
    var upstream: WebSocketSession?
}

extension WebSocketRequest {
    /// The claims of the token `auth:` verified, if any.
    var claims: Claims? { (admitted as? Admitted)?.claims }
    /// The session's number on its endpoint, taken at admission (see ``Admitted``).
    var sessionNumber: Int? { (admitted as? Admitted)?.number }
    /// The upstream session of a proxied client.
    var upstream: WebSocketSession? { (admitted as? Admitted)?.upstream }
}
