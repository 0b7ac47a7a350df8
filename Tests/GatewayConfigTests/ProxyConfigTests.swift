import Foundation
import GatewayConfig
import Testing

@Suite struct ProxyConfigTests {
    @Test func aProxyEndpoint_readsItsUpstreamsTimeoutAndHeaders() throws {
        let loaded = try parse(
            """
            version: 1
            endpoints:
              - path: /live
                type: proxy
                upstream: [ws://a:9000/live, "wss://b/live?v=2"]
                connect_timeout: 2s
                pass_headers: [Authorization, X-Token]
              - path: /one
                type: proxy
                upstream: ws://backend:9000/one
            """)
        let endpoints = loaded.configuration.endpoints
        #expect(
            endpoints[0].kind
                == .proxy(
                    ProxySettings(
                        upstreams: ["ws://a:9000/live", "wss://b/live?v=2"], connectTimeout: .seconds(2),
                        passHeaders: ["Authorization", "X-Token"])))
        #expect(endpoints[1].kind == .proxy(ProxySettings(upstreams: ["ws://backend:9000/one"])))
    }

    @Test func badUpstreams_areRefusedWithTheirPlace() {
        #expect(
            problems("version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: http://a/x }\n")
                == [
                    "3:40 endpoints[0].upstream: 'http://a/x' is not a ws:// or wss:// URL | write e.g. 'ws://backend:9000/live' or 'wss://…'"
                ])
        #expect(
            problems("version: 1\nendpoints:\n  - { path: /p, type: proxy }\n")
                == ["3:5 endpoints[0] has no 'upstream' | add e.g. 'upstream: ws://backend:9000/live'"])
        #expect(
            problems("version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: 'ws://a:99999/' }\n").first?
                .contains("invalid port") == true)
        #expect(
            problems(
                "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, pass_headers: ['a b'] }\n"
            )
            .first?.contains("is not a header name") == true)
    }

    @Test func headers_takeClaimsOnlyWithAuth_andNeverTheProxysOwnFields() throws {
        let yaml = """
            version: 1
            endpoints:
              - path: /p
                type: proxy
                upstream: ws://a/
                headers: { X-User-Id: "{claims.sub}", X-Static: fixed }
                auth: { jwt: { secret: 0123456789abcdef0123456789abcdef } }
            """
        #expect(problems(yaml).isEmpty)
        let endpoint = try #require(
            try? ConfigLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: ".").configuration.endpoints.first)
        #expect(
            endpoint.kind
                == .proxy(
                    ProxySettings(
                        upstreams: ["ws://a/"], headers: ["X-User-Id": "{claims.sub}", "X-Static": "fixed"])))
        #expect(endpoint.settings.auth != nil)

        let withoutAuth =
            "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, headers: { X-U: '{claims.sub}' } }\n"
        #expect(problems(withoutAuth).first?.contains("uses {claims.sub}, but the endpoint checks no token") == true)
        let unknown =
            "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, headers: { X-U: '{query.x}' } }\n"
        #expect(problems(unknown).first?.contains("which it cannot fill") == true)
        let reserved =
            "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, headers: { Host: x } }\n"
        #expect(problems(reserved).first?.contains("'Host' is set by the proxy itself") == true)
        let badName =
            "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, headers: { 'a b': x } }\n"
        #expect(problems(badName).first?.contains("is not a header name") == true)
        let notMap = "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: ws://a/, headers: [a] }\n"
        #expect(problems(notMap).first?.contains("must be a mapping of header names to values") == true)
    }

    @Test func caFile_mustBeReadable_andIsResolvedAgainstTheConfigFolder() throws {
        let missing =
            "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: wss://a/, ca_file: nowhere.pem }\n"
        #expect(problems(missing).first?.contains("ca_file: cannot read") == true)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "not checked here".write(to: folder.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let yaml = "version: 1\nendpoints:\n  - { path: /p, type: proxy, upstream: wss://a/, ca_file: ca.pem }\n"
        let endpoint = try #require(
            try ConfigLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: folder.path).configuration.endpoints.first
        )
        guard case .proxy(let settings) = endpoint.kind else {
            Issue.record("not a proxy endpoint")
            return
        }
        #expect(settings.caFile == folder.appendingPathComponent("ca.pem").path)
    }
}
