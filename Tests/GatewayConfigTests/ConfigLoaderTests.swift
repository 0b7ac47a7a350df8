import Foundation
import GatewayConfig
import Testing
import WebSocketEngine

func parse(_ yaml: String) throws(ConfigError) -> LoadedConfiguration {
    try ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: "/etc/wsgate")
}

/// The diagnostics a bad file produces, as `line:column message` strings.
func problems(_ yaml: String) -> [String] {
    do {
        _ = try parse(yaml)
        return []
    } catch {
        return error.diagnostics.map {
            "\($0.location.line):\($0.location.column) \($0.message)\($0.hint.map { " | \($0)" } ?? "")"
        }
    }
}

@Suite struct ConfigLoaderTests {
    @Test func minimalFile_getsEveryDefault() throws {
        let loaded = try parse("version: 1\nendpoints:\n  - { path: /echo, type: echo }\n")
        let config = loaded.configuration
        #expect(config.server.listen == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(config.server.handshakeTimeout == .seconds(10))
        #expect(config.endpoints.count == 1)
        let settings = config.endpoints[0].settings
        #expect(settings.options == WebSocketOptions())
        #expect(settings.options.pingPeriod == .seconds(15))
        #expect(settings.options.maxFrameSize == 1 << 20)
        #expect(settings.options.maxMessageSize == 4 << 20)
        #expect(settings.allowedOrigins == ["*"])
        #expect(config.baseDirectory == "/etc/wsgate")
        #expect(loaded.warnings.isEmpty)
    }

    @Test func defaults_mergeUnderEachEndpoint_andEndpointsOverrideThem() throws {
        let config = try parse(
            """
            version: 1
            server: { listen: "127.0.0.1:9001", max_connections: 50, handshake_timeout: 250ms }
            defaults:
              ping_period: 0
              timeout: 2m
              max_frame_size: 64KiB
              max_message_size: unlimited
            endpoints:
              - path: /a
                type: echo
              - path: /b/{room}
                type: echo
                max_frame_size: 512
                greeting: hello
                reply: "Hi, {message}!"
                bye: { text: quit, ignore_case: false, reason: "gone" }
            """
        ).configuration
        #expect(config.server.listen == ListenAddress(host: "127.0.0.1", port: 9001))
        #expect(config.server.maxConnections == 50)
        #expect(config.server.handshakeTimeout == .milliseconds(250))
        let a = config.endpoints[0].settings.options
        let b = config.endpoints[1].settings.options
        #expect(a.pingPeriod == .zero && a.timeout == .seconds(120) && a.maxFrameSize == 65536)
        #expect(a.maxMessageSize == Int.max)
        #expect(b.maxFrameSize == 512 && b.timeout == .seconds(120))
        #expect(
            config.endpoints[1].kind
                == .echo(
                    EchoSettings(
                        greeting: "hello", reply: "Hi, {message}!",
                        bye: ByeRule(text: "quit", ignoreCase: false, reason: "gone")))
        )
    }

    @Test func unknownKey_isReportedWithItsPosition_andASuggestion() {
        let found = problems("version: 1\nendpoints:\n  - path: /echo\n    type: echo\n    max_frame_sise: 1MiB\n")
        #expect(found == ["5:5 unknown key 'max_frame_sise' in endpoints[0] | did you mean 'max_frame_size'?"])
    }

    @Test func everyProblem_isReportedInOneRun() {
        let found = problems(
            """
            version: 1
            server:
              listen: "localhost"
            defaults:
              ping_period: 15
              max_message_size: 10MB
            endpoints:
              - path: echo
                type: echo
              - path: /x
                type: ecko
            """
        )
        #expect(
            found == [
                "3:11 server.listen must be host:port, not 'localhost' | e.g. 0.0.0.0:8080 or 127.0.0.1:9001",
                "5:16 defaults.ping_period must be a duration | write a number with a unit: 250ms, 15s, 2m, 1h, or 0 to disable",
                "6:21 defaults.max_message_size must be a size, not '10MB' | sizes use binary units: write 10MiB",
                "8:11 endpoints[0].path: path 'echo' must start with '/', e.g. '/echo'",
                "11:11 endpoints[1].type 'ecko' is not an endpoint type | did you mean 'echo'?",
            ]
        )
    }

    @Test func missingVersion_andFutureVersion_areRefused() {
        #expect(
            problems("endpoints:\n  - { path: /e, type: echo }\n") == [
                "1:1 the file has no 'version' | add 'version: 1' as its first line"
            ])
        #expect(
            problems("version: 2\nendpoints:\n  - { path: /e, type: echo }\n")
                == [
                    "1:10 version 2 is not understood by this wsgate, which reads version 1 | upgrade wsgate, or write the file for version 1"
                ]
        )
    }

    @Test func yamlSyntaxError_isReportedWithItsPosition() {
        let found = problems("version: 1\nendpoints:\n  - path: /e\n    type: [echo\n")
        #expect(found.count == 1)
        #expect(
            found.first?.hasPrefix("5:1 YAML syntax error") == true || found.first?.hasPrefix("4:") == true, "\(found)")
    }

    @Test func contradictoryLimits_andDuplicatePaths_areErrors() {
        let found = problems(
            """
            version: 1
            endpoints:
              - path: /a
                type: echo
                max_frame_size: 2MiB
                max_message_size: 1MiB
              - path: /a
                type: echo
                ping_period: 5s
                timeout: 0
            """
        )
        #expect(
            found == [
                "3:5 endpoints[0]: max_frame_size (2097152 bytes) is larger than max_message_size (1048576 bytes) | a frame is part of a message: raise max_message_size or lower max_frame_size",
                "7:5 endpoints[1]: timeout is 0 while ping_period is on, so every ping would time out at once | set timeout to e.g. 15s, or ping_period: 0 to disable pings",
                "7:11 path /a is declared twice (first at test.yaml:3:11) | give each endpoint its own path; only a 'type: static' endpoint may share the path of a WebSocket endpoint",
            ]
        )
    }

    @Test func productionKeys_areRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-tls-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["tls.crt", "tls.key"] {
            try Data("pem".utf8).write(to: folder.appendingPathComponent(name))
        }
        let loaded = try ConfigLoader.parse(
            yaml: """
                version: 1
                server:
                  shutdown_grace: 30s
                  shutdown_spread: 20s
                  health_path: /live
                  metrics_path: null
                  console_path: /console
                  tls: { certificate: tls.crt, private_key: tls.key }
                  log: { level: debug, format: json }
                endpoints:
                  - { path: /c, type: echo }
                """,
            file: "test.yaml",
            baseDirectory: folder.path
        )
        let server = loaded.configuration.server
        #expect(server.shutdownGrace == .seconds(30))
        #expect(server.shutdownSpread == .seconds(20))
        #expect(server.healthPath == "/live")
        #expect(server.metricsPath == nil)
        #expect(server.consolePath == "/console")
        #expect(server.tls?.certificatePath == folder.appendingPathComponent("tls.crt").path)
        #expect(server.tls?.privateKeyPath == folder.appendingPathComponent("tls.key").path)
        #expect(server.logLevel == "debug")
        #expect(server.logFormat == .json)
        let defaults = try parse("version: 1\nendpoints:\n  - { path: /c, type: echo }\n").configuration.server
        #expect(defaults.healthPath == "/healthz" && defaults.metricsPath == "/metrics" && defaults.consolePath == nil)
        #expect(defaults.tls == nil && defaults.logFormat == .text && defaults.shutdownSpread == .zero)
    }

    @Test func productionKeys_areChecked() {
        let found = problems(
            """
            version: 1
            server:
              shutdown_grace: 5s
              shutdown_spread: 5s
              health_path: /c
              metrics_path: healthz
              console_path: /c
              tls: { certificate: missing.crt }
              log: { format: xml }
            endpoints:
              - { path: /c, type: echo }
            """
        )
        #expect(
            found == [
                "4:20 server.shutdown_spread (5.0 seconds) is not shorter than server.shutdown_grace (5.0 seconds) | the closes must be spread within the grace period: shorten shutdown_spread or lengthen shutdown_grace",
                "5:16 server.health_path /c is also an endpoint's path | move the endpoint, or set server.health_path to another path (or null)",
                "6:17 server.metrics_path must be a literal path starting with '/', not 'healthz' | e.g. /healthz, or null to disable it",
                "7:17 server.console_path and server.health_path are both /c | give each its own path",
                "7:17 server.console_path /c is also an endpoint's path | move the endpoint, or set server.console_path to another path (or null)",
                "8:8 server.tls has no 'private_key' | server.tls needs both certificate and private_key",
                "8:23 server.tls.certificate: cannot read '/etc/wsgate/missing.crt' | give the path of a PEM file (relative paths start from the config file's folder)",
                "9:18 server.log.format 'xml' is not a format | use text or json",
            ]
        )
    }

    @Test func masking_isAWarningNotAnError() throws {
        let loaded = try parse("version: 1\nendpoints:\n  - { path: /m, type: echo, masking: true }\n")
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings.first?.severity == .warning)
        #expect(loaded.configuration.endpoints[0].settings.options.masking)
    }

    @Test(
        arguments: [
            ("0.0.0.0:8080", "0.0.0.0", 8080), (":9000", "0.0.0.0", 9000), ("[::1]:443", "::1", 443),
        ] as [(String, String, Int)])
    func listenAddresses_parse(_ text: String, _ host: String, _ port: Int) {
        #expect(ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
    }

    @Test func urlAuthorities_parse_withTheSchemesDefaultPort() {
        #expect(
            ListenAddress(authority: "example.com", defaultPort: 80) == ListenAddress(host: "example.com", port: 80))
        #expect(
            ListenAddress(authority: "127.0.0.1:8443", defaultPort: 443) == ListenAddress(host: "127.0.0.1", port: 8443)
        )
        #expect(ListenAddress(authority: "[::1]", defaultPort: 443) == ListenAddress(host: "::1", port: 443))
        #expect(ListenAddress(authority: "[::1]:9001", defaultPort: 80) == ListenAddress(host: "::1", port: 9001))
        for bad in ["", ":80", "host:", "host:0", "host:70000", "::1", "[::1", "[::1]x"] {
            #expect(ListenAddress(authority: Substring(bad), defaultPort: 80) == nil, "\(bad)")
        }
    }
}

@Suite struct ExtensionConfigTests {
    @Test func deflate_isOnByDefault_andEndpointKeysMergeOverDefaults() throws {
        let config = try parse(
            """
            version: 1
            defaults:
              extensions:
                permessage-deflate: { compression_level: 1, server_max_window_bits: 10 }
            endpoints:
              - { path: /a, type: echo }
              - path: /b
                type: echo
                extensions: { permessage-deflate: { client_no_context_takeover: true } }
              - path: /c
                type: echo
                extensions: { permessage-deflate: { enabled: false } }
            """
        ).configuration
        #expect(
            try parse("version: 1\nendpoints: [{ path: /x, type: echo }]").configuration.endpoints[0].settings.deflate
                == PerMessageDeflateConfiguration())
        #expect(
            config.endpoints[0].settings.deflate
                == PerMessageDeflateConfiguration(compressionLevel: 1, serverMaxWindowBits: 10))
        #expect(
            config.endpoints[1].settings.deflate
                == PerMessageDeflateConfiguration(
                    compressionLevel: 1, clientNoContextTakeover: true, serverMaxWindowBits: 10)
        )
        #expect(config.endpoints[2].settings.extensions.isEmpty)
    }

    @Test func unknownExtension_isAnError_unlessTheBuildRegisteredIt() throws {
        let yaml =
            "version: 1\nendpoints:\n  - path: /f\n    type: echo\n    extensions: { permessage-deflat: {}, x-flip: { note: hi } }\n"
        #expect(
            problems(yaml) == [
                "5:19 unknown extension 'permessage-deflat' in endpoints[0].extensions | did you mean 'permessage-deflate'?",
                "5:42 unknown extension 'x-flip' in endpoints[0].extensions | this build knows: permessage-deflate; a custom build can register more",
            ]
        )
        let loaded = try ConfigLoader.parse(
            yaml: yaml.replacingOccurrences(of: "permessage-deflat:", with: "permessage-deflate:"),
            file: "test.yaml",
            baseDirectory: ".",
            customExtensions: ["x-flip"]
        )
        #expect(
            loaded.configuration.endpoints[0].settings.extensions
                == [
                    .permessageDeflate(PerMessageDeflateConfiguration()),
                    .custom(name: "x-flip", parameters: ["note": "hi"]),
                ]
        )
    }

    @Test func deflateKeys_areChecked() {
        let found = problems(
            """
            version: 1
            endpoints:
              - path: /d
                type: echo
                extensions:
                  permessage-deflate: { server_max_window_bits: 16, compression_level: 10, level: 3 }
            """
        )
        #expect(
            found == [
                "6:53 endpoints[0].extensions.permessage-deflate.server_max_window_bits must be between 8 and 15, not 16",
                "6:76 endpoints[0].extensions.permessage-deflate.compression_level must be between 0 and 9, not 10",
                "6:80 unknown key 'level' in endpoints[0].extensions.permessage-deflate | the keys here are: enabled, compression_level, compress_min_size, server_no_context_takeover, client_no_context_takeover, server_max_window_bits, client_max_window_bits, memory_level",
            ]
        )
    }
}
