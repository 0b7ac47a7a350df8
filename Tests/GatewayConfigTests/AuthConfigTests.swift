import Foundation
import GatewayConfig
import Testing

private func load(_ yaml: String, base: String = "/nonexistent") throws(ConfigError) -> GatewayConfiguration {
    try ConfigLoader.parse(
        yaml: yaml, file: "test.yaml", baseDirectory: base,
        environment: ["JWT_SECRET": "0123456789abcdef0123456789abcdef"]
    ).configuration
}

private func errors(_ yaml: String, base: String = "/nonexistent") -> [ConfigDiagnostic] {
    do {
        _ = try load(yaml, base: base)
        return []
    } catch {
        return error.diagnostics.filter { $0.severity == .error }
    }
}

@Suite struct AuthConfigTests {
    @Test func jwtUnderDefaults_appliesToEveryEndpoint_andNullLeavesOneOpen() throws {
        let configuration = try load(
            """
            version: 1
            defaults:
              auth:
                jwt:
                  secret: ${JWT_SECRET}
                  issuer: https://auth.example.com
                  audience: wsgate
                  leeway: 5s
                  token_from: [query:access, header:Authorization, subprotocol]
                  rooms_claim: rooms
            endpoints:
              - { path: "/chat/{room}", type: broadcast, room: "{room}", name: "{claims.sub}" }
              - { path: /open, type: echo, auth: null }
            """)
        var expected = JWTSettings(key: .secret("0123456789abcdef0123456789abcdef"))
        expected.issuer = "https://auth.example.com"
        expected.audience = "wsgate"
        expected.leeway = .seconds(5)
        expected.tokenFrom = [.query("access"), .header("Authorization"), .subprotocol]
        expected.roomsClaim = "rooms"
        #expect(configuration.endpoints[0].settings.auth == .jwt(expected))
        #expect(configuration.endpoints[1].settings.auth == nil)
    }

    @Test func aCookieToken_withAnyOrigin_isRefused_becauseOfCrossSiteHijacking() {
        let found = errors(
            """
            version: 1
            endpoints:
              - path: /chat
                type: broadcast
                auth: { jwt: { secret: "${JWT_SECRET}", token_from: [cookie:wsgate_token] } }
            """)
        #expect(found.count == 1)
        #expect(found.first?.location.description == "test.yaml:3:5")
        #expect(found.first?.message.contains("cross-site WebSocket hijacking") == true)
        #expect(found.first?.hint?.contains("allowed_origins") == true)
    }

    @Test func aCookieToken_withAnOriginAllowList_isAccepted() throws {
        let configuration = try load(
            """
            version: 1
            endpoints:
              - path: /chat
                type: broadcast
                allowed_origins: ["https://app.example.com"]
                auth: { jwt: { secret: "${JWT_SECRET}", token_from: [cookie:wsgate_token] } }
            """)
        #expect(configuration.endpoints[0].settings.auth?.jwt?.tokenFrom == [.cookie("wsgate_token")])
    }

    @Test func claimsInATemplate_withoutAuth_areRefused() {
        let found = errors(
            """
            version: 1
            endpoints:
              - { path: /chat, type: broadcast, name: "{claims.sub}" }
            """)
        #expect(found.first?.message.contains("uses {claims.sub}, but the endpoint checks no token") == true)
    }

    @Test func badJWTSettings_sayWhatToWrite() {
        let found = errors(
            """
            version: 1
            endpoints:
              - { path: /a, type: echo, auth: { jwt: { secret: short } } }
              - { path: /b, type: echo, auth: { jwt: { issuer: x } } }
              - { path: /c, type: echo, auth: { jwt: { secret: "${JWT_SECRET}", token_from: [body:x] } } }
              - { path: /d, type: echo, auth: { jwt: { public_key: missing.pem } } }
              - { path: /e, type: echo, auth: { jwt: { secret: "${JWT_SECRET}", leway: 5s } } }
            """)
        let messages = found.map(\.message)
        #expect(messages.contains { $0.contains("endpoints[0].auth.jwt.secret is 5 bytes") })
        #expect(
            messages.contains { $0.contains("endpoints[1].auth.jwt needs exactly one of secret, public_key or jwks") })
        #expect(messages.contains { $0.contains("'body:x' is not a token source") })
        #expect(messages.contains { $0.contains("cannot read '/nonexistent/missing.pem'") })
        #expect(found.contains { $0.message.contains("unknown key 'leway'") && $0.hint == "did you mean 'leeway'?" })
    }

    @Test func publicKey_isReadRelativeToTheConfigFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-auth-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        try pem.write(to: folder.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        try "not a key".write(to: folder.appendingPathComponent("bad.pem"), atomically: true, encoding: .utf8)
        let configuration = try load(
            """
            version: 1
            endpoints:
              - { path: /a, type: echo, auth: { jwt: { public_key: key.pem } } }
            """, base: folder.path)
        #expect(configuration.endpoints[0].settings.auth?.jwt?.key == .publicKey(path: "key.pem", pem: pem))
        let found = errors(
            """
            version: 1
            endpoints:
              - { path: /a, type: echo, auth: { jwt: { public_key: bad.pem } } }
            """, base: folder.path)
        #expect(found.first?.message.contains("holds no PEM public key") == true)
    }

    @Test func jwks_isAURLOrAFile_andItsCAAppliesToHTTPSOnly() throws {
        let configuration = try load(
            """
            version: 1
            endpoints:
              - { path: /a, type: echo, auth: { jwt: { jwks: "https://auth.example.com/jwks.json" } } }
            """)
        #expect(
            configuration.endpoints[0].settings.auth?.jwt?.key
                == .jwks(source: "https://auth.example.com/jwks.json", caFile: nil))
        let found = errors(
            """
            version: 1
            endpoints:
              - { path: /a, type: echo, auth: { jwt: { jwks: missing.json } } }
              - { path: /b, type: echo, auth: { jwt: { jwks: "https://a.example/j", secret: "${JWT_SECRET}" } } }
            """)
        #expect(found.contains { $0.message.contains("jwks: cannot read '/nonexistent/missing.json'") })
        #expect(found.contains { $0.message.contains("needs exactly one of secret, public_key or jwks") })
    }

    @Test func roomsClaim_onAnEndpointWithoutRooms_isAWarning() throws {
        let loaded = try ConfigLoader.parse(
            yaml: """
                version: 1
                endpoints:
                  - { path: /e, type: echo, auth: { jwt: { secret: "${JWT_SECRET}", rooms_claim: rooms } } }
                """,
            file: "test.yaml", baseDirectory: "/", environment: ["JWT_SECRET": String(repeating: "k", count: 32)])
        #expect(
            loaded.warnings.map(\.message) == [
                "endpoints[0] (type: echo) has no rooms: rooms_claim 'rooms' is not checked here"
            ])
    }
}
