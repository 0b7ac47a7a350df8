import WebSocketEngine

/// What a gateway endpoint's admission hands to its session (as ``WebSocketEngine/WebSocketRequest/admitted``):
/// the verified token's claims, and the session's number on its endpoint (a room member's `{n}`, a shared
/// process's `{connection}`) taken before the 101, so sessions are numbered in the order their handshakes
/// were answered rather than the order their handlers happen to start.
///
/// Three words, so that it fits an `any Sendable`'s inline buffer: a room member that is only numbered
/// (no `auth:`) costs no allocation for it. The claims, when there are any, are kept in a box.
struct Admitted: Sendable {
    private let claimsBox: ClaimsBox?
    /// The number, or `Int.min` for none.
    private let numberOrNone: Int
    /// The upstream session `type: proxy` opened for this client.
    let upstream: WebSocketSession?

    init(claims: Claims? = nil, number: Int? = nil, upstream: WebSocketSession? = nil) {
        claimsBox = claims.map(ClaimsBox.init)
        numberOrNone = number ?? .min
        self.upstream = upstream
    }

    /// The verified token's claims, if `auth:` checked one.
    var claims: Claims? { claimsBox?.claims }
    /// The session's number on its endpoint, if the endpoint numbers its sessions.
    var number: Int? { numberOrNone == .min ? nil : numberOrNone }

    private final class ClaimsBox: Sendable {
        let claims: Claims
        init(_ claims: Claims) { self.claims = claims }
    }
}

extension WebSocketRequest {
    /// The claims of the token `auth:` verified, if any.
    var claims: Claims? { (admitted as? Admitted)?.claims }
    /// The session's number on its endpoint, taken at admission (see ``Admitted``).
    var sessionNumber: Int? { (admitted as? Admitted)?.number }
    /// The upstream session of a proxied client.
    var upstream: WebSocketSession? { (admitted as? Admitted)?.upstream }
}
