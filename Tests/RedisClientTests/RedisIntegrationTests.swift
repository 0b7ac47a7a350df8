import NIOCore
import NIOPosix
import NIOSSL
import RedisClient
import RedisTesting
import Testing

/// The client and subscriber against a real `redis-server` the tests start themselves.
@Suite(.serialized)
struct RedisIntegrationTests {
    @Test func tenThousandPipelinedINCRs_comeBackInOrder() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            let commands = Array(repeating: RedisCommand("INCR", "counter"), count: 10_000)
            let started = ContinuousClock.now
            let replies = try await redis.pipeline(commands)
            let elapsed = ContinuousClock.now - started
            #expect(replies == (1...10_000).map { RESPValue.integer(Int64($0)) })
            print("10,000 pipelined INCRs in \(elapsed)")
            await redis.close()
        }
    }

    @Test func concurrentSenders_eachGetTheirOwnReply() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for step in 0..<20 {
                            let value = "\(task)-\(step)"
                            _ = try await redis.send("SET", "key\(task)", value)
                            #expect(try await redis.send("GET", "key\(task)").string == value)
                        }
                    }
                }
                try await group.waitForAll()
            }
            await redis.close()
        }
    }

    @Test func binaryValues_roundTrip_andErrorRepliesThrowWithTheCommand() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            let bytes = ByteBuffer(bytes: (0...255).map { UInt8($0) } + [0x0D, 0x0A])
            _ = try await redis.send("SET", "bin", bytes)
            #expect(try await redis.send("GET", "bin").bytes == bytes)
            #expect(try await redis.send("GET", "missing") == .null)
            await #expect(throws: RedisClientError.self) { try await redis.send("INCR", "bin") }
            do {
                _ = try await redis.send("LPUSH", "bin", "x")
            } catch {
                #expect("\(error)".hasPrefix("Redis answered LPUSH with an error: WRONGTYPE"))
            }
            let mixed = try await redis.pipeline([RedisCommand("INCR", "bin"), RedisCommand("PING")])
            #expect(mixed[0].errorMessage != nil)
            #expect(mixed[1] == .simpleString("PONG"))
            await redis.close()
        }
    }

    @Test func selectsTheDatabaseOfTheURL() async throws {
        try await withRedisServer { server in
            let db3 = try await RedisClient.connect(to: try server.configuration("/3"))
            let db0 = try await RedisClient.connect(to: try server.configuration())
            _ = try await db3.send("SET", "where", "three")
            #expect(try await db0.send("GET", "where") == .null)
            #expect(try await db3.send("GET", "where").string == "three")
            await db3.close()
            await db0.close()
        }
    }

    @Test func evalsha_afterScriptFlush_fallsBackToEval() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await redis.evaluate(script, keys: ["n"], arguments: [5]) == .integer(5))
            let sha = try #require(try await redis.send("SCRIPT", "LOAD", script.source).string)
            _ = try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.send("SCRIPT", "EXISTS", sha) == .array([.integer(0)]))
            #expect(try await redis.evaluate(script, keys: ["n"], arguments: [2]) == .integer(7))
            // EVAL (not SCRIPT LOAD again: the client knew the SHA) put it back in the cache.
            #expect(try await redis.send("SCRIPT", "EXISTS", sha) == .array([.integer(1)]))
            #expect(try await redis.evaluate(script, keys: ["n"], arguments: [1]) == .integer(8))
            await redis.close()
        }
    }

    @Test func pubSub_deliversToChannelsAndPatterns_inOrder() async throws {
        try await withRedisServer { server in
            let subscriber = try await RedisSubscriber.connect(to: try server.configuration())
            let redis = try await RedisClient.connect(to: try server.configuration())
            try await subscriber.subscribe(to: ["room:a"])
            try await subscriber.psubscribe(to: ["news:*"])
            #expect(try await redis.publish("one", to: "room:a") == 1)
            #expect(try await redis.publish(ByteBuffer(bytes: [0, 1, 2]), to: "news:today") == 1)
            #expect(try await redis.publish("nobody", to: "room:b") == 0)
            for index in 0..<1000 { try await redis.publish("m\(index)", to: "room:a") }

            var iterator = subscriber.messages.makeAsyncIterator()
            #expect(await iterator.next() == RedisPubSubMessage(channel: "room:a", payload: ByteBuffer(string: "one")))
            #expect(
                await iterator.next()
                    == RedisPubSubMessage(
                        channel: "news:today", pattern: "news:*", payload: ByteBuffer(bytes: [0, 1, 2]))
            )
            for index in 0..<1000 {
                let message = await iterator.next()
                #expect(message.map { String(buffer: $0.payload) } == "m\(index)")
            }
            try await subscriber.unsubscribe(from: ["room:a"])
            #expect(try await redis.publish("gone", to: "room:a") == 0)
            #expect(subscriber.subscriptions.channels.isEmpty)
            await subscriber.close()
            await redis.close()
        }
    }

    @Test func killedAndRestartedServer_clientAndSubscriberReconnectAndWork() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            let subscriber = try await RedisSubscriber.connect(to: try server.configuration())
            try await subscriber.subscribe(to: ["room"])
            _ = try await redis.send("SET", "k", "v")

            server.kill()
            #expect(await next(redis.events) == .disconnected(reason: "connection closed"))
            await #expect(throws: RedisClientError.notConnected(address: "127.0.0.1:\(server.port)")) {
                try await redis.send("PING")
            }
            try await server.start()

            #expect(try await eventually { redis.isConnected && subscriber.isConnected })
            #expect(try await redis.send("GET", "k") == .null)  // a new, empty server
            #expect(try await redis.send("INCR", "k") == .integer(1))
            #expect(try await eventually { try await redis.publish("back", to: "room") == 1 })
            let message = await next(subscriber.messages)
            #expect(message.map { String(buffer: $0.payload) } == "back")
            var sawReconnected = false
            while let event = await next(subscriber.events, timeout: .milliseconds(200)) {
                if event == .reconnected { sawReconnected = true }
            }
            #expect(sawReconnected)
            await subscriber.close()
            await redis.close()
        }
    }

    @Test func clientKillOfPubSubConnections_subscriberReconnectsAndResubscribes() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            let subscriber = try await RedisSubscriber.connect(to: try server.configuration())
            try await subscriber.subscribe(to: ["a", "b"])
            try await subscriber.psubscribe(to: ["p:*"])
            #expect(try await redis.send("CLIENT", "KILL", "TYPE", "pubsub").int == 1)
            #expect(await next(subscriber.events) == .disconnected(reason: "connection closed"))
            #expect(await next(subscriber.events) == .reconnected)
            #expect(try await eventually { try await redis.publish("x", to: "p:1") == 1 })
            #expect(try await redis.publish("after", to: "b") == 1)
            #expect(await next(subscriber.messages)?.channel == "p:1")
            #expect(
                await next(subscriber.messages)
                    == RedisPubSubMessage(channel: "b", payload: ByteBuffer(string: "after")))
            #expect(redis.isConnected)  // the command connection was not a pub/sub one
            await subscriber.close()
            await redis.close()
        }
    }

    @Test func hungServer_isNoticedByTheSubscribersPing_whichReconnectsOnceItAnswersAgain() async throws {
        try await withRedisServer { server in
            var configuration = try server.configuration()
            configuration.commandTimeout = .milliseconds(300)
            configuration.connectTimeout = .milliseconds(500)
            let subscriber = try await RedisSubscriber.connect(to: configuration)
            try await subscriber.subscribe(to: ["a"])
            // Nothing is waiting for a reply: only the PING notices the server stopped answering.
            server.pause(true)
            #expect(await next(subscriber.events) == .disconnected(reason: "connection closed"))
            server.pause(false)
            var event = await next(subscriber.events)
            while case .reconnectFailed = event { event = await next(subscriber.events) }
            #expect(event == .reconnected)
            let redis = try await RedisClient.connect(to: configuration)
            #expect(try await eventually { try await redis.publish("back", to: "a") == 1 })
            #expect(await next(subscriber.messages)?.payload == ByteBuffer(string: "back"))
            await redis.close()
            await subscriber.close()
        }
    }

    @Test func requirepass_rightPasswordWorks_wrongOrMissingOneFailsClearly() async throws {
        try await withRedisServer(["--requirepass", "s3cret"]) { server in
            let good = try await RedisClient.connect(
                to: RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(server.port)"))
            #expect(try await good.send("PING") == .simpleString("PONG"))
            await good.close()

            let address = "127.0.0.1:\(server.port)"
            do {
                _ = try await RedisClient.connect(
                    to: RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)"))
                Issue.record("connected with a wrong password")
            } catch let error as RedisClientError {
                guard case .authenticationFailed(address, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(message.hasPrefix("WRONGPASS"))
                #expect("\(error)".contains("refused the credentials"))
                #expect(!"\(error)".contains("wrong"))  // the password never appears
            }
            await #expect(throws: RedisClientError.authenticationRequired(address: address)) {
                _ = try await RedisClient.connect(to: RedisConfiguration(url: server.url))
            }
            await #expect(throws: RedisClientError.self) {
                _ = try await RedisSubscriber.connect(
                    to: RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)"))
            }
        }
    }

    @Test func aclUserAndPassword_authenticate() async throws {
        try await withRedisServer { server in
            let admin = try await RedisClient.connect(to: try server.configuration())
            _ = try await admin.send("ACL", "SETUSER", "alice", "on", ">pa:ss", "~*", "&*", "+@all")
            let alice = try await RedisClient.connect(
                to: RedisConfiguration(url: "redis://alice:pa%3Ass@127.0.0.1:\(server.port)")
            )
            #expect(try await alice.send("ACL", "WHOAMI").string == "alice")
            await alice.close()
            await admin.close()
        }
    }

    @Test func nothingListening_failsWithConnectionRefused() async throws {
        let port = try await RedisServer.freePort()
        do {
            _ = try await RedisClient.connect(to: RedisConfiguration(url: "redis://127.0.0.1:\(port)"))
            Issue.record("connected to nothing")
        } catch let error as RedisClientError {
            #expect("\(error)" == "cannot connect to Redis at 127.0.0.1:\(port): Connection refused")
        }
    }

    @Test func closedClient_refusesCommands() async throws {
        try await withRedisServer { server in
            let redis = try await RedisClient.connect(to: try server.configuration())
            await redis.close()
            await #expect(throws: RedisClientError.closed) { try await redis.send("PING") }
        }
    }
}

@Suite struct RedisHandshakeTimeoutTests {
    @Test func serverThatNeverAnswers_failsTheConnectWithinTheTimeout() async throws {
        // A listener that accepts and says nothing (not Redis).
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)")
        configuration.connectTimeout = .milliseconds(300)
        let started = ContinuousClock.now
        await #expect(
            throws: RedisClientError.connectionFailed(
                address: "127.0.0.1:\(port)",
                reason: "no answer to AUTH/PING within 0.3 seconds"
            )
        ) {
            _ = try await RedisClient.connect(to: configuration)
        }
        // Not a timing goal: a bound far above the timeout that a connect which never gave up would pass
        // (a loaded 2-core machine once took 3 s for the 0.3 s timeout).
        #expect(ContinuousClock.now - started < .seconds(15))
        try await silent.close()
    }
}

@Suite
struct RedisTLSTests {
    @Test func rediss_connectsOverTLS_andChecksTheCertificate() async throws {
        let server = try await RedisServer(tls: true)
        defer { server.stop() }
        var configuration = try RedisConfiguration(url: "rediss://localhost:\(server.port)/1")
        configuration.tls?.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(server.certificatePath))
        let redis = try await RedisClient.connect(to: configuration)
        #expect(try await redis.send("SET", "over", "tls") == .simpleString("OK"))
        #expect(try await redis.pipeline(Array(repeating: RedisCommand("INCR", "n"), count: 100)).last == .integer(100))
        await redis.close()

        // The system's roots do not know a self-signed certificate.
        do {
            _ = try await RedisClient.connect(to: RedisConfiguration(url: "rediss://localhost:\(server.port)"))
            Issue.record("a self-signed certificate was trusted")
        } catch {
            #expect("\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
        }
    }
}
