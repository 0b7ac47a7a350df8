import GatewayConfig
import Testing

private func load(_ yaml: String) throws(ConfigError) -> GatewayConfiguration {
    try ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: "/srv/site", environment: [:]).configuration
}

@Suite struct StaticConfigTests {
    @Test func aStaticEndpoint_mayShareItsPathWithAWebSocketEndpoint() throws {
        let configuration = try load(
            """
            version: 1
            endpoints:
              - { path: /, type: process, command: [cat] }
              - { path: /, type: static, directory: public }
            """)
        #expect(configuration.endpoints.count == 2)
        #expect(configuration.endpoints[1].kind == .staticFiles(StaticSettings(directory: "/srv/site/public")))
        #expect(!configuration.endpoints[1].kind.isWebSocket)
    }

    @Test func twoWebSocketEndpointsOnOnePath_areStillRefused_withAHintAboutStatic() {
        do {
            _ = try load(
                """
                version: 1
                endpoints:
                  - { path: /, type: echo }
                  - { path: /, type: static, directory: public }
                  - { path: /, type: broadcast }
                """)
            Issue.record("accepted")
        } catch {
            let diagnostic = error.diagnostics.first { $0.message.hasPrefix("path / is declared twice") }
            #expect(diagnostic?.location.description == "test.yaml:5:13")
            #expect(diagnostic?.hint?.contains("only a 'type: static' endpoint may share") == true)
        }
    }

    @Test func indexDefaultsToIndexHtml_andNullTurnsItOff() throws {
        let configuration = try load(
            """
            version: 1
            endpoints:
              - { path: /a, type: static, directory: /var/www }
              - { path: /b, type: static, directory: /var/www, index: null }
              - { path: /c, type: static, directory: /var/www, index: home.htm }
            """)
        #expect(
            configuration.endpoints.map(\.kind) == [
                .staticFiles(StaticSettings(directory: "/var/www")),
                .staticFiles(StaticSettings(directory: "/var/www", index: nil)),
                .staticFiles(StaticSettings(directory: "/var/www", index: "home.htm")),
            ])
    }

    @Test(arguments: ["../x", "a/b", ".."])
    func anIndexThatIsNotAFileName_isRefused(index: String) {
        #expect(throws: ConfigError.self) {
            try load(
                """
                version: 1
                endpoints:
                  - { path: /, type: static, directory: /var/www, index: "\(index)" }
                """)
        }
    }
}
