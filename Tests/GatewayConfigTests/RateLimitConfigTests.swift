import GatewayConfig
import Testing
import WebSocketEngine

@Suite struct RateLimitConfigTests {
    @Test func limits_areOffByDefault() throws {
        let config = try parse("version: 1\nendpoints:\n  - { path: /echo, type: echo }\n").configuration
        #expect(config.server.maxConnectionsPerIP == .max)
        #expect(config.server.newConnections == nil)
        #expect(config.server.newConnectionsPerIP == nil)
        #expect(config.server.connectionLimits == ConnectionLimits())
        #expect(config.endpoints[0].settings.options.rateLimit == nil)
        #expect(config.endpoints[0].settings.options.maxConnectionsPerAddress == .max)
    }

    @Test func serverLimits_acceptRates_mappings_andUnlimited() throws {
        let config = try parse(
            """
            version: 1
            server:
              max_connections_per_ip: 20
              new_connections: { rate: 1200/m, burst: 400 }
              new_connections_per_ip: 5/s
            endpoints:
              - { path: /echo, type: echo }
            """
        ).configuration
        #expect(config.server.maxConnectionsPerIP == 20)
        #expect(config.server.newConnections == RateLimit(perSecond: 20, burst: 400))
        #expect(config.server.newConnectionsPerIP == RateLimit(perSecond: 5, burst: 5))
        let unlimited = try parse(
            """
            version: 1
            server: { max_connections_per_ip: unlimited, new_connections: unlimited, new_connections_per_ip: null }
            endpoints:
              - { path: /echo, type: echo }
            """
        ).configuration
        #expect(unlimited.server.connectionLimits == ConnectionLimits())
    }

    @Test func endpointConnectionsPerIP_areADefaultAnEndpointOverrides() throws {
        let config = try parse(
            """
            version: 1
            defaults: { max_connections_per_ip: 3 }
            endpoints:
              - { path: /a, type: echo }
              - { path: /b, type: echo, max_connections_per_ip: unlimited }
              - { path: /c, type: echo, max_connections_per_ip: 1 }
            """
        ).configuration
        #expect(config.endpoints.map(\.settings.options.maxConnectionsPerAddress) == [3, .max, 1])
    }

    @Test func rate_isReadWithItsDefaults_andEndpointKeysApplyOverDefaults() throws {
        let config = try parse(
            """
            version: 1
            defaults:
              rate: { messages: 20/s, burst: 40, action: close }
            endpoints:
              - { path: /a, type: echo }
              - { path: /b, type: echo, rate: { messages: 1200/m } }
              - { path: /c, type: echo, rate: { bytes: 1MiB/s, bytes_burst: 4MiB } }
              - { path: /d, type: echo, rate: unlimited }
              - { path: /e, type: echo, rate: { messages: unlimited, bytes: 64KiB/s, action: drop } }
            """
        ).configuration
        let limits = config.endpoints.map(\.settings.options.rateLimit)
        #expect(limits[0] == MessageRateLimit(messages: RateLimit(perSecond: 20, burst: 40), action: .close))
        #expect(limits[1] == MessageRateLimit(messages: RateLimit(perSecond: 20, burst: 40), action: .close))
        #expect(
            limits[2]
                == MessageRateLimit(
                    messages: RateLimit(perSecond: 20, burst: 40),
                    bytes: RateLimit(perSecond: 1_048_576, burst: 4_194_304), action: .close))
        #expect(limits[3] == nil)
        #expect(limits[4] == MessageRateLimit(bytes: RateLimit(perSecond: 65_536), action: .drop))
        // Without a burst, a second's worth; the action defaults to drop.
        let plain = try parse(
            "version: 1\nendpoints:\n  - { path: /a, type: echo, rate: { messages: 10/s } }\n"
        ).configuration
        #expect(
            plain.endpoints[0].settings.options.rateLimit
                == MessageRateLimit(messages: RateLimit(perSecond: 10, burst: 10), action: .drop))
    }

    @Test func badValues_areReportedWithTheirPosition_andWhatToWrite() {
        let found = problems(
            """
            version: 1
            server:
              max_connections_per_ip: 0
              new_connections: fast
              new_connections_per_ip: { rate: -3/s, burst: 2 }
            defaults:
              rate: { messages: fast, burst: 0, bytes: 1MB/s, action: kick }
            endpoints:
              - { path: /a, type: echo, rate: { burst: 5 } }
              - { path: /b, type: echo, rate: { messages: 0/s } }
              - { path: /c, type: echo, rate: { message: 5/s } }
            """
        )
        let expected = [
            "3:27 server.max_connections_per_ip must be between 1 and 10000000, not 0",
            "4:20 server.new_connections must be a rate, not 'fast'",
            "5:35 server.new_connections_per_ip.rate must be a rate above zero, not '-3/s'",
            "7:21 defaults.rate.messages must be a rate above zero, not 'fast'",
            "7:34 defaults.rate.burst must be between 1 and 1000000000, not 0",
            "7:44 defaults.rate.bytes must be a byte rate above zero, not '1MB/s'",
            "7:59 defaults.rate.action 'kick' is not an action",
            "9:35 endpoints[0].rate.burst is set but messages is not",
            "10:47 endpoints[1].rate.messages must be a rate above zero, not '0/s'",
            "11:37 unknown key 'message' in endpoints[2].rate | did you mean 'messages'?",
        ]
        for prefix in expected {
            #expect(found.contains { $0.hasPrefix(prefix) }, "missing \(prefix) in:\n\(found.joined(separator: "\n"))")
        }
    }
}
