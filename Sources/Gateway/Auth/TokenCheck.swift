import Foundation
import GatewayConfig
import WebSocketEngine

/// Why a request was not let in. Each has a fixed `reason` (the `wsgate_handshakes_refused_total` label)
/// and the HTTP answer: 401 with `WWW-Authenticate` for a token that is missing or not good, 403 for a
/// good token that does not open this room.
enum AuthFailure: Error, Equatable {
    case missing
    case malformed(String)
    case algorithm(String)
    case signature
    case expired
    case notYetValid
    case issuer
    case audience
    case room(String)
    /// The token's `kid` is not in the JWKS (after the refresh it may trigger).
    case unknownKey
    /// No JWKS could be loaded yet.
    case keysUnavailable
    /// The webhook answered 401 or 403.
    case webhookRefused(Int)
    /// The webhook did not answer 2xx, 401 or 403 in time (fail closed).
    case webhookUnavailable(String)
    /// `max_concurrent` checks are in flight.
    case webhookBusy

    var reason: String {
        switch self {
        case .missing: return "token_missing"
        case .malformed: return "token_malformed"
        case .algorithm: return "token_algorithm"
        case .signature: return "token_signature"
        case .expired: return "token_expired"
        case .notYetValid: return "token_not_yet_valid"
        case .issuer: return "token_issuer"
        case .audience: return "token_audience"
        case .room: return "room_forbidden"
        case .unknownKey: return "token_unknown_key"
        case .keysUnavailable: return "jwks_unavailable"
        case .webhookRefused: return "webhook_refused"
        case .webhookUnavailable: return "webhook_unavailable"
        case .webhookBusy: return "webhook_busy"
        }
    }

    /// What the client is told (never the token or its claims).
    var message: String {
        switch self {
        case .missing: return "no token"
        case .malformed(let why): return "malformed token: \(why)"
        case .algorithm(let alg): return "token algorithm '\(alg)' is not allowed for this endpoint's key"
        case .signature: return "token signature does not verify"
        case .expired: return "token expired"
        case .notYetValid: return "token not yet valid"
        case .issuer: return "token issuer is not accepted"
        case .audience: return "token audience is not accepted"
        case .room(let room): return "the token does not allow room '\(room)'"
        case .unknownKey: return "no key in the JWKS has the token's kid"
        case .keysUnavailable: return "the token keys (JWKS) could not be loaded"
        case .webhookRefused(let status): return "the auth backend refused (\(status))"
        case .webhookUnavailable(let why): return "the auth backend could not decide (\(why))"
        case .webhookBusy: return "too many checks in flight"
        }
    }

    var status: Int {
        switch self {
        case .room: return 403
        case .webhookRefused(let status): return status
        case .webhookUnavailable, .webhookBusy, .keysUnavailable: return 503
        default: return 401
        }
    }

    /// The refusal: status, `WWW-Authenticate` (RFC 6750) and a text body saying what to do; `sources`
    /// (the endpoint's `token_from`) tell a client without a token where to put one.
    func refusal(sources: [JWTSettings.TokenSource] = []) -> AdmissionRefusal {
        let challenge: String
        let advice: String
        switch self {
        case .webhookUnavailable, .webhookBusy, .keysUnavailable:
            return AdmissionRefusal(
                status: 503, message: "Not admitted: \(message). Try again later.",
                headers: [("Retry-After", "1")], reason: reason)
        case .webhookRefused(403):
            return AdmissionRefusal(status: 403, message: "Not admitted: \(message).", reason: reason)
        case .webhookRefused:
            challenge = #"Bearer realm="wsgate""#
            advice = "Sign in again."
        case .missing:
            challenge = #"Bearer realm="wsgate""#
            let places = sources.map { source in
                switch source {
                case .query(let name): "?\(name)=<token>"
                case .header(let name):
                    name.lowercased() == "authorization" ? "Authorization: Bearer <token>" : "\(name): <token>"
                case .cookie(let name): "the cookie \(name)"
                case .subprotocol: "the subprotocol \(TokenExtraction.subprotocolPrefix)<token>"
                }
            }
            advice =
                places.isEmpty
                ? "Send the credentials the endpoint expects." : "Send a token in \(places.joined(separator: ", or "))."
        case .room:
            challenge = #"Bearer realm="wsgate", error="insufficient_scope", error_description="\#(message)""#
            advice = "Ask for a token whose rooms claim lists this room."
        default:
            challenge = #"Bearer realm="wsgate", error="invalid_token", error_description="\#(message)""#
            advice = "Get a new token and connect again."
        }
        return AdmissionRefusal(
            status: status, message: "Not admitted: \(message). \(advice)",
            headers: [("WWW-Authenticate", challenge)], reason: reason)
    }
}

/// The checks on a token's claims once its signature verified: time, issuer, audience, rooms. Pure:
/// `now` is given.
struct TokenCheck: Sendable {
    let issuer: String?
    let audience: String?
    let leeway: Double
    let roomsClaim: String?

    /// Only the time and the rooms a webhook granted (a webhook's claims carry no issuer to check).
    static let webhook = TokenCheck(issuer: nil, audience: nil, leeway: 0, roomsClaim: nil)

    private init(issuer: String?, audience: String?, leeway: Double, roomsClaim: String?) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.roomsClaim = roomsClaim
    }

    init(_ settings: JWTSettings) {
        issuer = settings.issuer
        audience = settings.audience
        let (seconds, attoseconds) = settings.leeway.components
        leeway = Double(seconds) + Double(attoseconds) / 1e18
        roomsClaim = settings.roomsClaim
    }

    /// nil when the claims admit the request to `room` (nil: the endpoint has no rooms) at `now`
    /// (seconds since 1970).
    func check(_ claims: Claims, room: String?, now: Double) -> AuthFailure? {
        let values = claims.values
        if let exp = values["exp"] {
            guard case .number(let seconds) = exp else { return .malformed("exp is not a number") }
            if now >= seconds + leeway { return .expired }
        }
        if let nbf = values["nbf"] {
            guard case .number(let seconds) = nbf else { return .malformed("nbf is not a number") }
            if now + leeway < seconds { return .notYetValid }
        }
        if let issuer, values["iss"] != .string(issuer) { return .issuer }
        if let audience {
            switch values["aud"] {
            case .string(let value) where value == audience: break
            case .array(let list) where list.contains(.string(audience)): break
            default: return .audience
            }
        }
        if let room, let allowed = claims.rooms, !allowed.contains(where: { Self.matches(pattern: $0, room) }) {
            return .room(room)
        }
        if let roomsClaim, let room {
            let patterns: [String]
            switch values[roomsClaim] {
            case .string(let value): patterns = [value]
            case .array(let list):
                patterns = list.compactMap { if case .string(let value) = $0 { value } else { nil } }
            default: patterns = []
            }
            guard patterns.contains(where: { Self.matches(pattern: $0, room) }) else { return .room(room) }
        }
        return nil
    }

    /// `*` matches any room, `team-*` any room starting with `team-`; anything else matches exactly.
    static func matches(pattern: String, _ room: String) -> Bool {
        if pattern.hasSuffix("*") { return room.hasPrefix(pattern.dropLast()) }
        return pattern == room
    }
}

/// The `alg` and `kid` of a token's header, read before anything is verified so that the algorithm can
/// be checked against the key (an `alg: none` or an HMAC token against a public key never reaches a
/// verifier).
struct TokenHeader: Equatable {
    let alg: String
    let kid: String?

    /// Parses the first of three dot-separated base64url parts; fails with what is wrong.
    static func parse(_ token: String) -> Result<TokenHeader, AuthFailure> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.malformed("a JWT has three parts separated by dots")) }
        guard let bytes = TokenExtraction.base64URLDecode(String(parts[0])),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return .failure(.malformed("the header is not base64url JSON")) }
        guard let alg = object["alg"] as? String else { return .failure(.malformed("the header has no alg")) }
        return .success(TokenHeader(alg: alg, kid: object["kid"] as? String))
    }
}
