import Foundation
import GatewayConfig
import Logging
import NIOCore
import WebSocketEngine

/// An endpoint's `auth:` at work: before the 101 it finds the token, verifies it and checks its claims
/// (or asks the webhook), and either grants the session the claims or refuses with 401/403 (503 when a
/// webhook cannot decide). Refusals are logged by reason and peer; a token's contents never are.
struct EndpointAuth: Sendable {
    private enum Method: Sendable {
        case jwt(JWTSettings, JWTVerifier)
        case webhook(WebhookAuth)
    }

    let endpoint: String
    private let method: Method
    let check: TokenCheck
    /// The room a request asks for (with the token's claims, for `room: "{claims.team}"`); nil when the
    /// endpoint has no rooms.
    let room: @Sendable (WebSocketRequest, Claims) -> String?
    let logger: Logger

    init(
        endpoint: String,
        settings: AuthSettings,
        logger: Logger,
        room: @escaping @Sendable (WebSocketRequest, Claims) -> String? = { _, _ in nil }
    ) throws {
        self.endpoint = endpoint
        self.logger = logger
        self.room = room
        switch settings {
        case .jwt(let jwt):
            check = TokenCheck(jwt)
            do {
                method = .jwt(jwt, try JWTVerifier(jwt.key, logger: logger))
            } catch {
                throw GatewayError("endpoint \(endpoint): auth.jwt.\(error.description)")
            }
        case .webhook(let webhook):
            check = .webhook
            method = .webhook(WebhookAuth(webhook))
        }
    }

    /// The claims of a request's token, or why it has none that admits it; a failure is logged.
    func authenticate(_ request: WebSocketRequest, now: Double = Date().timeIntervalSince1970) async -> Result<
        Claims, AuthFailure
    > {
        let result = await verify(request, now: now)
        if case .failure(let failure) = result {
            logger.notice(
                "handshake refused: \(failure.message)",
                metadata: [
                    "endpoint": "\(endpoint)", "reason": "\(failure.reason)", "status": "\(failure.status)",
                    "peer": "\(request.remoteAddress ?? "-")",
                ])
        }
        return result
    }

    private func verify(_ request: WebSocketRequest, now: Double) async -> Result<Claims, AuthFailure> {
        let claims: Claims
        switch method {
        case .jwt(let settings, let verifier):
            let token: String
            switch TokenExtraction.token(
                from: settings.tokenFrom, query: request.queryParameters, headers: request.headers)
            {
            case .found(let found): token = found
            case .malformed(let why): return .failure(.malformed(why))
            case .missing: return .failure(.missing)
            }
            switch await verifier.verify(token) {
            case .success(let verified): claims = verified
            case .failure(let failure): return .failure(failure)
            }
        case .webhook(let webhook):
            switch await webhook.check(request) {
            case .success(let granted): claims = granted
            case .failure(let failure): return .failure(failure)
            }
        }
        if let failure = check.check(claims, room: room(request, claims), now: now) { return .failure(failure) }
        return .success(claims)
    }

    /// Where the endpoint looks for a token (none for a webhook).
    private var tokenSources: [JWTSettings.TokenSource] {
        if case .jwt(let settings, _) = method { return settings.tokenFrom }
        return []
    }

    /// The asynchronous admission of the endpoint: the token first, then `next` (a process slot), whose
    /// hold `release` gives back when the client left during the check.
    func admission(
        then next: WebSocketAdmission? = nil, release: (@Sendable () -> Void)? = nil
    ) -> WebSocketAsyncAdmission {
        { request in
            let claims: Claims
            switch await authenticate(request) {
            case .success(let verified): claims = verified
            case .failure(let failure): return .refuse(failure.refusal(sources: tokenSources))
            }
            return admit(request, claims: claims, then: next, release: release)
        }
    }

    /// The asynchronous admission of an endpoint whose own admission needs the claims (a proxy's
    /// upstream request carries them): the token first, then `next`, whose grant holds the claims.
    func admission(
        thenAsync next: @escaping @Sendable (WebSocketRequest, Claims) async -> Admission
    ) -> WebSocketAsyncAdmission {
        { request in
            switch await authenticate(request) {
            case .success(let claims): return await next(request, claims)
            case .failure(let failure): return .refuse(failure.refusal(sources: tokenSources))
            }
        }
    }

    /// The query parameters a token may come in (`token_from: [query:NAME]`).
    var tokenQueryParameters: [String] {
        tokenSources.compactMap { if case .query(let name) = $0 { name } else { nil } }
    }

    private func admit(
        _ request: WebSocketRequest, claims: Claims, then next: WebSocketAdmission?, release: (@Sendable () -> Void)?
    ) -> Admission {
        if let next, case .refuse(let refusal) = next(request) { return .refuse(refusal) }
        return .grant(AdmissionGrant(value: Admitted(claims: claims), abandoned: release))
    }

    /// Closes `session` with 1008 "token expired" when its token's `exp` (plus `leeway`) passes: a timer on
    /// the session's event loop (no task waits per session), cancelled when the session ends first.
    static func expiryTimer(for session: WebSocketSession, leeway: Double) -> Scheduled<Void>? {
        guard let expiry = session.request.claims?.expiry, !expiry.isNaN else { return nil }
        // At most about 30 years: a timer further out is the same as none, and the nanoseconds must fit.
        let delay = min(max(0, expiry + leeway - Date().timeIntervalSince1970), 1e9)
        return session.eventLoop.scheduleTask(in: .nanoseconds(Int64((delay * 1e9).rounded(.up)))) {
            session.closeOnLoop(CloseReason(.policyViolation, "token expired"))
        }
    }
}
