import Foundation
import GatewayConfig
import Testing

@testable import Gateway

@Suite struct TokenExtractionTests {
    let sources: [JWTSettings.TokenSource] = [
        .query("token"), .header("Authorization"), .cookie("wsgate_token"), .subprotocol,
    ]

    @Test func eachSource_inOrder() {
        #expect(TokenExtraction.token(from: sources, query: ["token": "q.q.q"], headers: []) == .found("q.q.q"))
        #expect(
            TokenExtraction.token(
                from: sources, query: [:], headers: [("authorization", "Bearer  h.h.h ")]) == .found("h.h.h"))
        #expect(
            TokenExtraction.token(
                from: sources, query: [:], headers: [("Cookie", "a=1; wsgate_token=c.c.c; b=2")]) == .found("c.c.c"))
        #expect(
            TokenExtraction.token(
                from: sources, query: [:], headers: [("Sec-WebSocket-Protocol", "chat, base64url.bearer.s.s.s")])
                == .found("s.s.s"))
        // The query wins over the header when both are there.
        #expect(
            TokenExtraction.token(
                from: sources, query: ["token": "q.q.q"], headers: [("Authorization", "Bearer h.h.h")])
                == .found("q.q.q"))
    }

    @Test func aBase64urlSubprotocol_isDecoded() {
        // "a.b.c" in base64url without padding.
        #expect(
            TokenExtraction.token(
                from: [.subprotocol], query: [:], headers: [("Sec-WebSocket-Protocol", "base64url.bearer.YS5iLmM")])
                == .found("a.b.c"))
    }

    @Test func anotherAuthorizationScheme_isMalformed_andNothingIsMissing() {
        if case .malformed = TokenExtraction.token(
            from: sources, query: [:], headers: [("Authorization", "Basic dXNlcjpwdw==")])
        {
        } else {
            Issue.record("Basic accepted as a token")
        }
        #expect(TokenExtraction.token(from: sources, query: ["other": "x"], headers: []) == .missing)
        // A source that is not configured is not read.
        #expect(
            TokenExtraction.token(from: [.query("token")], query: [:], headers: [("Cookie", "token=x")]) == .missing)
    }
}

@Suite struct TokenCheckTests {
    func check(
        issuer: String? = "https://auth.example.com", audience: String? = "wsgate", leeway: Duration = .seconds(5),
        roomsClaim: String? = "rooms"
    ) -> TokenCheck {
        var settings = JWTSettings(key: .secret("0123456789abcdef"))
        settings.issuer = issuer
        settings.audience = audience
        settings.leeway = leeway
        settings.roomsClaim = roomsClaim
        return TokenCheck(settings)
    }

    let good: [String: ClaimValue] = [
        "iss": .string("https://auth.example.com"), "aud": .array([.string("other"), .string("wsgate")]),
        "exp": .number(1_000), "nbf": .number(100), "rooms": .array([.string("team-*"), .string("lobby")]),
    ]

    @Test func aGoodToken_passes_withinLeeway() {
        #expect(check().check(Claims(good), room: "team-a", now: 500) == nil)
        #expect(check().check(Claims(good), room: "lobby", now: 1_004) == nil)
        #expect(check().check(Claims(good), room: "lobby", now: 96) == nil)
    }

    @Test func eachRefusal_hasItsReasonAndStatus() {
        let cases: [([String: ClaimValue], Double, String, Int)] = [
            (good, 1_005, "token_expired", 401),
            (good, 94, "token_not_yet_valid", 401),
            (good.merging(["iss": .string("https://evil.example.com")]) { $1 }, 500, "token_issuer", 401),
            (good.merging(["aud": .string("other")]) { $1 }, 500, "token_audience", 401),
            (good.merging(["exp": .string("soon")]) { $1 }, 500, "token_malformed", 401),
            (good.merging(["rooms": .string("lobby")]) { $1 }, 500, "room_forbidden", 403),
            (good.filter { $0.key != "rooms" }, 500, "room_forbidden", 403),
        ]
        for (claims, now, reason, status) in cases {
            let failure = check().check(Claims(claims), room: "team-a", now: now)
            #expect(failure?.reason == reason)
            #expect(failure?.status == status)
            #expect(failure?.refusal().headers.first?.name == "WWW-Authenticate")
        }
    }

    @Test func aMissingToken_isToldWhereToPutOne() {
        let refusal = AuthFailure.missing.refusal(sources: [.query("token"), .header("Authorization"), .subprotocol])
        #expect(refusal.status == 401)
        #expect(
            refusal.message
                == "Not admitted: no token. Send a token in ?token=<token>, or Authorization: Bearer <token>, "
                + "or the subprotocol base64url.bearer.<token>."
        )
    }

    @Test func roomPatterns() {
        #expect(TokenCheck.matches(pattern: "*", "anything"))
        #expect(TokenCheck.matches(pattern: "team-*", "team-blue"))
        #expect(!TokenCheck.matches(pattern: "team-*", "teams"))
        #expect(!TokenCheck.matches(pattern: "lobby", "lobby2"))
    }

    @Test func header_namesTheAlgorithm_orSaysWhatIsWrong() throws {
        // {"alg":"none","typ":"JWT"}
        #expect(try TokenHeader.parse("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.").get().alg == "none")
        if case .failure(.malformed) = TokenHeader.parse("only.two") {} else { Issue.record("two parts accepted") }
        if case .failure(.malformed) = TokenHeader.parse("%%%.e30.x") {} else { Issue.record("bad header accepted") }
    }

    @Test func claims_fillTemplatesAndTheEnvironment() {
        let claims = Claims([
            "sub": .string("alice"), "uid": .number(42), "admin": .bool(true), "team-name": .string("blue"),
            "groups": .array([.string("a")]),
        ])
        #expect(claims.field("claims.sub") == "alice")
        #expect(claims.field("claims.uid") == "42")
        #expect(claims.field("claims.groups") == #"["a"]"#)
        #expect(claims.field("claims.missing") == "")
        #expect(claims.field("name") == nil)
        #expect(
            claims.environment == [
                "WSGATE_CLAIM_SUB": "alice", "WSGATE_CLAIM_UID": "42", "WSGATE_CLAIM_TEAM_NAME": "blue",
            ])
    }
}

@Suite struct JWTVerifierTests {
    @Test func algNone_andAnotherAlgorithm_areRefused_beforeVerification() async throws {
        let verifier = try JWTVerifier(.secret("0123456789abcdef0123456789abcdef"))
        // {"alg":"none"} . {"sub":"x"} . (no signature)
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
        #expect(await verifier.verify(none) == .failure(.algorithm("none")))
        // {"alg":"RS256"} against a secret.
        let rs = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
        #expect(await verifier.verify(rs) == .failure(.algorithm("RS256")))
        // HS256 with a signature made with another secret.
        let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        #expect(await verifier.verify(forged) == .failure(.signature))
    }
}

@Suite struct WebhookDecisionTests {
    @Test func twoHundreds_admit_withWhatTheBodySets() throws {
        let body = Array(#"{"name":"alice","rooms":["team-*"],"claims":{"team":"blue","uid":7}}"#.utf8)
        let claims = try WebhookAuth.decide(status: 200, body: body).get()
        #expect(claims.memberName == "alice")
        #expect(claims.rooms == ["team-*"])
        #expect(claims.field("claims.team") == "blue")
        #expect(claims.field("claims.uid") == "7")
        #expect(try WebhookAuth.decide(status: 204, body: []).get() == Claims([:]))
    }

    @Test func refusalsPassThrough_andEverythingElseFailsClosed() {
        #expect(WebhookAuth.decide(status: 401, body: []) == .failure(.webhookRefused(401)))
        #expect(WebhookAuth.decide(status: 403, body: []) == .failure(.webhookRefused(403)))
        for status in [302, 404, 500, 502] {
            #expect(WebhookAuth.decide(status: status, body: []).status == 503)
        }
        // A 2xx whose body is not the documented JSON, or names an impossible member, is no admission.
        #expect(WebhookAuth.decide(status: 200, body: Array("<html>".utf8)).status == 503)
        #expect(WebhookAuth.decide(status: 200, body: Array(#"{"name":"a b"}"#.utf8)).status == 503)
    }

    @Test func aRoomTheWebhookDidNotGrant_is403() {
        let claims = Claims([:], rooms: ["team-*"])
        #expect(TokenCheck.webhook.check(claims, room: "team-a", now: 0) == nil)
        #expect(TokenCheck.webhook.check(claims, room: "lobby", now: 0) == .room("lobby"))
    }
}

extension Result where Failure == AuthFailure {
    /// The refusal's status, nil on success.
    fileprivate var status: Int? {
        if case .failure(let failure) = self { return failure.status }
        return nil
    }
}
