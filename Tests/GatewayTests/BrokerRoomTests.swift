import Gateway
import GatewayConfig
import NIOCore
import RedisTesting
import Testing
import WebSocketEngine
import WebSocketTesting

/// Two gateway instances sharing their rooms through a real redis-server.
@Suite(.serialized)
struct BrokerRoomTests {
    private func configuration(_ redis: RedisServer, onUnavailable: String = "reject") throws -> GatewayConfiguration {
        try ConfigLoader.parse(
            yaml: """
                version: 1
                defaults: { ping_period: 0 }
                broker: { url: "\(redis.url)", prefix: t, on_unavailable: \(onUnavailable) }
                endpoints:
                  - { path: /chat, type: broadcast, name: "{query.name}", welcome: null }
                  - { path: /quiet, type: broadcast, name: "{query.name}", welcome: null, include_sender: false }
                  - { path: /mine, type: broadcast, name: "{query.name}", welcome: null, broker: local }
                  - { path: /told, type: broadcast, name: "{query.name}", welcome: null, unavailable: "not sent: {message}" }
                  - path: /hall
                    type: broadcast
                    name: "{query.name}"
                    welcome: null
                    announce: { join: "{name} joined" }
                """,
            file: "test.yaml",
            baseDirectory: "."
        ).configuration
    }

    /// Runs `body` with two instances of `configuration`, each with its own broker connections.
    private func withTwoInstances(
        _ configuration: GatewayConfiguration,
        _ body: (TestServer, TestServer, GatewayApplication) async throws -> Void
    ) async throws {
        let settings = try #require(configuration.broker)
        let brokerA = try await GatewayBroker.start(settings)
        let brokerB = try await GatewayBroker.start(settings)
        let appA = try GatewayApplication(configuration, broker: brokerA)
        let appB = try GatewayApplication(configuration, broker: brokerB)
        do {
            try await withTestServer(appA.router) { serverA in
                try await withTestServer(appB.router) { serverB in
                    try await body(serverA, serverB, appA)
                }
            }
        } catch {
            await brokerA.close()
            await brokerB.close()
            throw error
        }
        await brokerA.close()
        await brokerB.close()
    }

    /// Sends probes from `sender` until every client in `receivers` got one (the instances' subscriptions
    /// are in place), then reads every probe still on its way.
    private func settle(_ sender: WebSocketTestClient, _ receivers: [WebSocketTestClient]) async throws {
        for receiver in receivers {
            var seen = false
            for _ in 0..<100 where !seen {
                try await sender.send("probe")
                seen = (try? await nextText(receiver, timeout: .milliseconds(50))) != nil
            }
            #expect(seen, "the room never reached the other instance")
        }
        try await Task.sleep(for: .milliseconds(200))
        for client in [sender] + receivers {
            while (try? await nextText(client, timeout: .milliseconds(100))) != nil {}
        }
    }

    @Test func membersOnTwoInstances_hearEachOther_inOneOrder() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, serverB, _ in
                let ann = try await serverA.connect("/chat?name=ann")
                let bob = try await serverB.connect("/chat?name=bob")
                try await settle(ann, [bob])
                for index in 0..<50 {
                    try await ann.send("a\(index)")
                    try await bob.send("b\(index)")
                }
                // A probe of settle() can still be on its way on a loaded machine: it is not counted.
                func hundred(_ client: WebSocketTestClient) async throws -> [String] {
                    var heard: [String] = []
                    while heard.count < 100 {
                        let text = try #require(try await nextText(client))
                        if !text.hasSuffix(": probe") { heard.append(text) }
                    }
                    return heard
                }
                let heardByAnn = try await hundred(ann)
                let heardByBob = try await hundred(bob)
                #expect(heardByAnn == heardByBob)
                #expect(heardByAnn.filter { $0.hasPrefix("[ann]") } == (0..<50).map { "[ann]: a\($0)" })
                #expect(heardByAnn.filter { $0.hasPrefix("[bob]") } == (0..<50).map { "[bob]: b\($0)" })
            }
        }
    }

    @Test func firstMessageAfterJoining_comesBack_andJoinNoticesSkipTheJoiner() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, serverB, _ in
                let ann = try await serverA.connect("/hall?name=ann")
                try await ann.send("first")  // before this instance's subscription holds
                #expect(try await nextText(ann) == "[ann]: first")
                let bob = try await serverB.connect("/hall?name=bob")
                #expect(try await nextText(ann) == "bob joined")
                try await bob.send("hello")
                #expect(try await nextText(bob) == "[bob]: hello")  // not its own join notice
                #expect(try await nextText(ann) == "[bob]: hello")
            }
        }
    }

    @Test func includeSenderFalse_skipsTheSenderOnly_acrossInstances() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, serverB, _ in
                let ann = try await serverA.connect("/quiet?name=ann")
                let cat = try await serverA.connect("/quiet?name=cat")
                let bob = try await serverB.connect("/quiet?name=bob")
                try await settle(cat, [bob, ann])
                try await ann.send("hi")
                #expect(try await nextText(bob) == "[ann]: hi")
                #expect(try await nextText(cat) == "[ann]: hi")
                await #expect(throws: (any Error).self) { _ = try await ann.receive(timeout: .milliseconds(300)) }
            }
        }
    }

    @Test func brokerLocal_keepsTheRoomInItsInstance() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, serverB, _ in
                let ann = try await serverA.connect("/mine?name=ann")
                let bob = try await serverB.connect("/mine?name=bob")
                try await ann.send("only here")
                #expect(try await nextText(ann) == "[ann]: only here")
                await #expect(throws: (any Error).self) { _ = try await bob.receive(timeout: .milliseconds(300)) }
            }
        }
    }

    @Test func redisDown_rejectKeepsSessionsOpen_andCountsTheMessage() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, _, appA in
                let ann = try await serverA.connect("/chat?name=ann")
                try await settle(ann, [])
                redis.kill()
                // Until the command connection has seen Redis go, a publish may still be taken into the
                // pipeline (and fail as a publish error: docs/instances.md); `isConnected` is false as soon as
                // either connection has.
                #expect(try await eventually { appA.broker?.isConnected == false })
                #expect(try await eventually { appA.broker?.acceptsPublishes == false })
                try await ann.send("while down")
                #expect(try await eventually { appA.roomStatistics(path: "/chat")?.rejected == 1 })
                // The session is still open: a ping is answered.
                try await ann.send(.ping(ByteBuffer(string: "still")))
                #expect(try await ann.receive(timeout: .seconds(2)) == .pong(ByteBuffer(string: "still")))
            }
        }
    }

    @Test func redisDown_rejectTellsTheSender_whenTheEndpointHasAnUnavailableNotice() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis)) { serverA, _, appA in
                let ann = try await serverA.connect("/told?name=ann")
                try await settle(ann, [])
                redis.kill()
                #expect(try await eventually { appA.broker?.acceptsPublishes == false })
                try await ann.send("while down")
                #expect(try await nextText(ann) == "not sent: while down")
            }
        }
    }

    @Test func redisDown_localDeliversOnThisInstance() async throws {
        try await withRedisServer { redis in
            try await withTwoInstances(try configuration(redis, onUnavailable: "local")) { serverA, _, appA in
                let ann = try await serverA.connect("/chat?name=ann")
                let cat = try await serverA.connect("/chat?name=cat")
                try await settle(ann, [cat])
                redis.kill()
                #expect(try await eventually { appA.broker?.isConnected == false })
                #expect(try await eventually { appA.broker?.acceptsPublishes == false })
                try await ann.send("while down")
                #expect(try await nextText(cat) == "[ann]: while down")
            }
        }
    }
}
