import GatewayConfig
import Testing

@Suite struct BrokerConfigTests {
    @Test func noBroker_keepsEveryRoomLocal() throws {
        let config = try parse("version: 1\nendpoints:\n  - { path: /chat, type: broadcast }\n").configuration
        #expect(config.broker == nil)
        guard case .broadcast(let settings) = config.endpoints[0].kind else {
            Issue.record("not a broadcast endpoint")
            return
        }
        #expect(settings.broker == nil)
    }

    @Test func broker_readsEveryKey_andDefaultsTheRest() throws {
        let full = try parse(
            """
            version: 1
            broker:
              url: redis://:pw@redis:6380/2
              prefix: myapp:ws
              on_unavailable: local
              stream_size: 500
              stream_ttl: 2h
              command_timeout: 750ms
            endpoints:
              - { path: /chat, type: broadcast, history: 20, history_ttl: 1h, reset: "gone; now {position}", format: "{position} {message}" }
              - { path: /lobby, type: broadcast, broker: local }
            """
        ).configuration
        var expected = BrokerSettings(url: "redis://:pw@redis:6380/2")
        expected.prefix = "myapp:ws"
        expected.onUnavailable = .local
        expected.streamSize = 500
        expected.streamTTL = .seconds(7200)
        expected.commandTimeout = .milliseconds(750)
        #expect(full.broker == expected)
        guard case .broadcast(let lobby) = full.endpoints[1].kind else { return }
        #expect(lobby.broker == .local)
        guard case .broadcast(let chat) = full.endpoints[0].kind else { return }
        #expect(chat.history == 20 && chat.historyTTL == .seconds(3600))
        #expect(chat.reset == "gone; now {position}" && chat.format == "{position} {message}")

        let minimal = try parse(
            "version: 1\nbroker: { url: redis://localhost }\nendpoints:\n  - { path: /chat, type: broadcast }\n"
        ).configuration
        #expect(minimal.broker == BrokerSettings(url: "redis://localhost"))
        #expect(minimal.broker?.prefix == "wsgate")
        #expect(minimal.broker?.onUnavailable == .reject)
        #expect(minimal.broker?.streamSize == 1000)
        #expect(minimal.broker?.streamTTL == .seconds(86_400))
        #expect(minimal.broker?.commandTimeout == .seconds(5))
    }

    @Test func brokerURL_readsTheEnvironment() throws {
        let config = try ConfigLoader.parse(
            yaml: "version: 1\nbroker: { url: \"${REDIS_URL}\" }\nendpoints:\n  - { path: /chat, type: broadcast }\n",
            file: "test.yaml",
            baseDirectory: ".",
            environment: ["REDIS_URL": "rediss://user:secret@cache:6379/0"]
        ).configuration
        #expect(config.broker?.url == "rediss://user:secret@cache:6379/0")
    }

    @Test func badBroker_isReportedWithItsPlace_andWhatToWrite() {
        #expect(
            problems("version: 1\nbroker:\n  url: http://redis\nendpoints:\n  - { path: /c, type: broadcast }\n")
                == [
                    "3:8 broker.url: invalid Redis URL 'http://redis': the scheme must be redis:// or rediss://; write redis://[user:password@]host[:port][/db] or rediss://… for TLS"
                ]
        )
        #expect(
            problems(
                "version: 1\nbroker:\n  url: redis://:hunter2@h:99999\nendpoints:\n  - { path: /c, type: broadcast }\n"
            )
            .first?.contains("'redis://:***@h:99999': port '99999'") == true
        )
        #expect(
            problems("version: 1\nbroker: { prefix: x }\nendpoints:\n  - { path: /c, type: broadcast }\n")
                == [
                    "2:9 broker has no 'url' | add 'url: ${REDIS_URL}' (redis://[[user]:password@]host[:port][/db], rediss:// for TLS)"
                ]
        )
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h, on_unavailable: queue }\nendpoints:\n  - { path: /c, type: broadcast }\n"
            ).contains { $0.hasPrefix("2:43 broker.on_unavailable must be reject or local, not 'queue'") }
        )
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h, stream_sise: 5 }\nendpoints:\n  - { path: /c, type: broadcast }\n"
            )
            .contains { $0.contains("did you mean 'stream_size'") }
        )
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h, command_timeout: 1ms }\nendpoints:\n  - { path: /c, type: broadcast }\n"
            ) == ["2:44 broker.command_timeout must be at least 10ms | e.g. 5s"]
        )
    }

    @Test func positionInAWelcome_needsTheBroker() {
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h }\nendpoints:\n  - { path: /c, type: broadcast, broker: local, welcome: \"at {position}\" }\n"
            ) == [
                "4:5 endpoints[0] (/c) uses {position} in its welcome, but its rooms do not go through a broker | remove 'broker: local', or remove {position}"
            ]
        )
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h }\nendpoints:\n  - { path: /c, type: broadcast, welcome: \"at {position}\" }\n"
            ).isEmpty
        )
    }

    @Test func unavailableNotice_fillsNameRoomAndMessage_only() {
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h }\nendpoints:\n  - { path: /c, type: broadcast, unavailable: \"not sent: {message}\" }\n"
            ).isEmpty
        )
        #expect(
            problems(
                "version: 1\nbroker: { url: redis://h }\nendpoints:\n  - { path: /c, type: broadcast, unavailable: \"at {position}\" }\n"
            ).contains { $0.contains("unavailable uses {position}, which it cannot fill") }
        )
    }

    @Test func endpointAskingForRedis_withoutABroker_isAnError() {
        #expect(
            problems("version: 1\nendpoints:\n  - { path: /chat, type: broadcast, broker: redis }\n")
                == [
                    "3:5 endpoints[0] (/chat) has broker: redis, but the file has no top-level broker | add 'broker: { url: ${REDIS_URL} }' at the top level, or remove broker: redis"
                ]
        )
        #expect(
            problems("version: 1\nendpoints:\n  - { path: /chat, type: broadcast, broker: redi }\n").first?
                .contains("must be redis or local, not 'redi'") == true
        )
    }
}
