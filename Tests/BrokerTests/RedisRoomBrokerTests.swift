import Broker
import NIOCore
import RedisClient
import RedisTesting
import Synchronization
import Testing

/// What one broker instance delivered.
final class Deliveries: Sendable {
    private let storage = Mutex<[RedisRoomBroker.Delivery]>([])
    func append(_ delivery: RedisRoomBroker.Delivery) { storage.withLock { $0.append(delivery) } }
    var all: [RedisRoomBroker.Delivery] { storage.withLock { $0 } }
    func clear() { storage.withLock { $0 = [] } }
    func texts(_ room: String) -> [String] {
        all.filter { $0.room == room }.map { String(buffer: $0.envelope.payload) }
    }
}

func startBroker(
    _ server: RedisServer,
    _ deliveries: Deliveries,
    streamSize: Int = 100
) async throws -> RedisRoomBroker {
    try await RedisRoomBroker.start(
        configuration: try server.configuration(),
        settings: RedisRoomBroker.Settings(prefix: "test", streamSize: streamSize),
        onDelivery: { deliveries.append($0) }
    )
}

func text(_ value: String, from broker: RedisRoomBroker, sender: UInt64 = 0) -> RoomEnvelope {
    RoomEnvelope(kind: .text, origin: broker.instanceID, sender: sender, payload: ByteBuffer(string: value))
}

@Suite(.serialized)
struct RedisRoomBrokerTests {
    @Test func twoInstances_deliverEveryMessage_inTheSameOrder() async throws {
        try await withRedisServer { server in
            let (seenA, seenB) = (Deliveries(), Deliveries())
            // The streams hold the whole burst: a subscription that holds late (a loaded machine) then
            // reads the messages it missed from the stream; beyond stream_size they would count as lost.
            let a = try await startBroker(server, seenA, streamSize: 5000)
            let b = try await startBroker(server, seenB, streamSize: 5000)
            a.join("lobby")
            b.join("lobby")
            // Everything published after join() (as Redis saw it) is delivered, whenever the subscription
            // holds. A round trip on each connection puts both joins before what follows.
            _ = try await a.publish(text("probe", from: a), to: "lobby").get()
            _ = try await b.publish(text("probe", from: b), to: "lobby").get()
            // Both publish at once, pipelined; offsets decide one order for everyone.
            var futures: [EventLoopFuture<UInt64>] = []
            for index in 0..<500 {
                futures.append(try a.publish(text("a\(index)", from: a), to: "lobby"))
                futures.append(try b.publish(text("b\(index)", from: b), to: "lobby"))
            }
            for future in futures { _ = try await future.get() }
            func messages(_ seen: Deliveries) -> [RedisRoomBroker.Delivery] {
                seen.all.filter { String(buffer: $0.envelope.payload) != "probe" }
            }
            #expect(try await eventually { messages(seenA).count == 1000 && messages(seenB).count == 1000 })
            let orderA = messages(seenA).map(\.offset)
            let orderB = messages(seenB).map(\.offset)
            #expect(orderA == orderB)
            #expect(orderA == Array(orderA[0]..<orderA[0] + 1000))
            // One sender's messages keep their order.
            let fromA = seenB.texts("lobby").filter { $0.hasPrefix("a") && $0 != "probe" }
            #expect(fromA == (0..<500).map { "a\($0)" })
            #expect(Set(seenB.all.map(\.envelope.origin)) == [a.instanceID, b.instanceID])
            #expect(a.statistics.lost == 0 && b.statistics.lost == 0)
            await a.close()
            await b.close()
        }
    }

    @Test func messagesPublishedWhileJoining_areDelivered() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen)
            _ = try await broker.publish(text("before", from: broker), to: "fresh").get()
            broker.join("fresh")
            // Published before the subscription holds: read from the stream once it does.
            for index in 0..<3 { _ = try broker.publish(text("m\(index)", from: broker), to: "fresh") }
            #expect(try await eventually { seen.all.count == 3 })
            try await Task.sleep(for: .milliseconds(100))
            #expect(seen.texts("fresh") == ["m0", "m1", "m2"])
            await broker.close()
        }
    }

    @Test func roomsWithoutLocalMembers_areNotDelivered() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen)
            broker.join("mine")
            _ = try await broker.publish(text("x", from: broker), to: "mine").get()
            #expect(try await eventually { seen.all.count == 1 })
            _ = try await broker.publish(text("elsewhere", from: broker), to: "theirs").get()
            broker.leave("mine")
            try await Task.sleep(for: .milliseconds(100))
            _ = try await broker.publish(text("after leaving", from: broker), to: "mine").get()
            try await Task.sleep(for: .milliseconds(200))
            #expect(seen.all.allSatisfy { $0.room == "mine" })
            #expect(!seen.texts("mine").contains("after leaving"))
            await broker.close()
        }
    }

    @Test func aGap_isFilledFromTheStream_andDuplicatesAreDropped() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen)
            broker.join("r")
            let base = try await broker.publish(text("m0", from: broker), to: "r").get()
            // Once m0 is delivered the subscription holds (m0 came through it, or from the stream after it).
            #expect(try await eventually { seen.all.count == 1 })
            let before = broker.statistics
            // Messages that reach the stream but whose PUBLISH this instance never sees (as if lost),
            // written by hand in the same layout, then a duplicate and a normal publish.
            let redis = try await RedisClient.connect(to: try server.configuration())
            let keys = RoomKeys(prefix: "test", room: "r")
            for step in 1...3 {
                _ = try await redis.send("HINCRBY", keys.meta, "s", 1)
                _ = try await redis.send(
                    "XADD", keys.stream, base + UInt64(step), "d", text("m\(step)", from: broker).encoded())
            }
            let epoch = try #require(try await redis.send("HGET", keys.meta, "e").string)
            var duplicate = ByteBuffer(string: "\(base):\(epoch):")
            var entry = text("m0 again", from: broker).encoded()
            duplicate.writeBuffer(&entry)
            _ = try await redis.send("PUBLISH", keys.channel, duplicate)
            _ = try await broker.publish(text("m4", from: broker), to: "r").get()
            #expect(try await eventually { seen.all.count == 5 })
            #expect(seen.texts("r") == ["m0", "m1", "m2", "m3", "m4"])
            #expect(seen.all.map(\.offset) == Array(base...base + 4))
            #expect(broker.statistics.duplicates - before.duplicates == 1)
            #expect(broker.statistics.filled - before.filled == 3)
            await redis.close()
            await broker.close()
        }
    }

    @Test func afterPubSubIsKilled_theRoomCatchesUpFromItsStream() async throws {
        try await withRedisServer { server in
            let (seenA, seenB) = (Deliveries(), Deliveries())
            let a = try await startBroker(server, seenA)
            let b = try await startBroker(server, seenB)
            b.join("r")
            // From b: queued after its join on the same connection, so it is after b's start position.
            let base = try await b.publish(text("first", from: b), to: "r").get()
            #expect(try await eventually { seenB.all.count == 1 })
            let redis = try await RedisClient.connect(to: try server.configuration())
            // Kill b's subscriber and publish while it reconnects: those must come from the stream.
            _ = try await redis.send("CLIENT", "KILL", "TYPE", "pubsub")
            for index in 0..<20 { _ = try await a.publish(text("during \(index)", from: a), to: "r").get() }
            #expect(try await eventually { seenB.all.count == 21 })
            #expect(seenB.texts("r") == ["first"] + (0..<20).map { "during \($0)" })
            #expect(seenB.all.map(\.offset) == Array(base...base + 20))
            await redis.close()
            await a.close()
            await b.close()
        }
    }

    @Test func theLastMessageBeforeAResubscription_isNotHeldBackUntilTheNextOne() async throws {
        // A subscriber catches up once its subscription holds again: a message published between the
        // catch-up and the subscription must not wait for a later message to reveal the gap.
        try await withRedisServer { server in
            let (seenA, seenB) = (Deliveries(), Deliveries())
            let a = try await startBroker(server, seenA)
            let b = try await startBroker(server, seenB)
            b.join("r")
            _ = try await b.publish(text("first", from: b), to: "r").get()
            #expect(try await eventually { seenB.all.count == 1 })
            let redis = try await RedisClient.connect(to: try server.configuration())
            for round in 1...10 {
                _ = try await redis.send("CLIENT", "KILL", "TYPE", "pubsub")
                _ = try await a.publish(text("lone \(round)", from: a), to: "r").get()
                #expect(try await eventually { seenB.all.count == round + 1 }, "round \(round)")
            }
            #expect(seenB.texts("r") == ["first"] + (1...10).map { "lone \($0)" })
            await redis.close()
            await a.close()
            await b.close()
        }
    }

    @Test func publishScript_keepsTheStreamBounded_andExpiresTheRoom() async throws {
        try await withRedisServer { server in
            let broker = try await startBroker(server, Deliveries())
            for index in 0..<1000 { _ = try broker.publish(text("\(index)", from: broker), to: "big") }
            #expect(try await broker.publish(text("last", from: broker), to: "big").get() == 1001)
            let redis = try await RedisClient.connect(to: try server.configuration())
            let keys = RoomKeys(prefix: "test", room: "big")
            let length = try #require(try await redis.send("XLEN", keys.stream).int)
            #expect(length >= 100 && length < 300)  // MAXLEN ~ 100 trims whole nodes
            #expect(try await redis.send("HGET", keys.meta, "s").int == 1001)
            let ttl = try #require(try await redis.send("TTL", keys.stream).int)
            #expect(ttl > 86_000 && ttl <= 86_400)
            // After SCRIPT FLUSH the publish falls back to EVAL.
            _ = try await redis.send("SCRIPT", "FLUSH")
            #expect(try await broker.publish(text("after flush", from: broker), to: "big").get() == 1002)
            await redis.close()
            await broker.close()
        }
    }

    @Test func aGapLongerThanTwiceTheStreamSize_isFilledWhileTheStreamHoldsIt() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen, streamSize: 10)
            broker.join("g")
            let base = try await broker.publish(text("m0", from: broker), to: "g").get()
            #expect(try await eventually { seen.all.count == 1 })
            // 60 entries the subscription never sees: six times stream_size, yet MAXLEN ~ trims only
            // whole nodes of 100 entries, so the stream still holds them all.
            let redis = try await RedisClient.connect(to: try server.configuration())
            let keys = RoomKeys(prefix: "test", room: "g")
            var commands: [RedisCommand] = []
            for step in 1...60 {
                commands.append(RedisCommand("HINCRBY", keys.meta, "s", 1))
                commands.append(
                    RedisCommand(
                        "XADD", keys.stream, base + UInt64(step), "d", text("m\(step)", from: broker).encoded()))
            }
            _ = try await redis.pipeline(commands)
            _ = try await broker.publish(text("last", from: broker), to: "g").get()
            #expect(try await eventually { seen.all.count == 62 })
            #expect(seen.all.map(\.offset) == Array(base...base + 61))
            #expect(broker.statistics.lost == 0)
            await redis.close()
            await broker.close()
        }
    }

    @Test func scriptFlush_inTheMiddleOfABurst_keepsEachInstancesOrder() async throws {
        try await withRedisServer { server in
            let (seenA, seenB) = (Deliveries(), Deliveries())
            let a = try await startBroker(server, seenA, streamSize: 5000)
            let b = try await startBroker(server, seenB, streamSize: 5000)
            a.join("r")
            _ = try await a.publish(text("probe", from: a), to: "r").get()
            let redis = try await RedisClient.connect(to: try server.configuration())
            var futures: [EventLoopFuture<UInt64>] = []
            for index in 0..<600 {
                futures.append(try a.publish(text("a\(index)", from: a), to: "r"))
                futures.append(try b.publish(text("b\(index)", from: b), to: "r"))
                // Each instance meets NOSCRIPT with publishes in flight behind it, and the other
                // instance's EVAL can load a script in between: each sender's order must still hold.
                if index == 100 || index == 400 { _ = try redis.enqueue(RedisCommand("SCRIPT", "FLUSH")) }
            }
            for future in futures { _ = try await future.get() }
            #expect(try await eventually { seenA.all.count == 1201 })
            let texts = seenA.texts("r")
            #expect(texts.filter { $0.hasPrefix("a") } == (0..<600).map { "a\($0)" })
            #expect(texts.filter { $0.hasPrefix("b") } == (0..<600).map { "b\($0)" })
            #expect(seenA.all.map(\.offset) == Array(1...1201))
            await redis.close()
            await a.close()
            await b.close()
        }
    }

    @Test func hungRedis_failsPublishesAfterTheCommandTimeout_thenReconnects() async throws {
        try await withRedisServer { server in
            var configuration = try server.configuration()
            configuration.commandTimeout = .milliseconds(300)
            let broker = try await RedisRoomBroker.start(
                configuration: configuration,
                settings: RedisRoomBroker.Settings(prefix: "test"),
                onDelivery: { _ in }
            )
            server.pause(true)
            let started = ContinuousClock.now
            let pending = try broker.publish(text("stuck", from: broker), to: "r")
            await #expect(throws: RedisClientError.self) { _ = try await pending.get() }
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(broker.statistics.publishErrors == 1)
            server.pause(false)
            // The connection was closed: the client reconnects and publishing works again.
            #expect(
                try await eventually {
                    (try? await broker.publish(text("again", from: broker), to: "r").get()) != nil
                })
            #expect(broker.statistics.reconnects >= 1)
            await broker.close()
        }
    }

    @Test func positionMarks_areFilledByRedis_withTheMessagesOwnPosition() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen)
            broker.join("p")
            _ = try await broker.publish(text("probe", from: broker), to: "p").get()
            #expect(try await eventually { seen.all.count == 1 })
            // Positions after byte 1 and after byte 3 (the two-byte "é" between them).
            _ = try await broker.publish(text("<é>", from: broker), to: "p", positionMarks: [1, 3]).get()
            #expect(try await eventually { seen.all.count == 2 })
            let redis = try await RedisClient.connect(to: try server.configuration())
            let epoch = try #require(try await redis.send("HGET", RoomKeys(prefix: "test", room: "p").meta, "e").string)
            #expect(seen.texts("p").last == "<\(epoch):2é\(epoch):2>")
            await redis.close()
            await broker.close()
        }
    }

    @Test func replay_givesExactlyWhatFollowsSince_elseTheLatestHistory() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen, streamSize: 10)
            broker.join("r")
            for index in 1...30 { _ = try broker.publish(text("m\(index)", from: broker), to: "r") }
            #expect(try await eventually { seen.all.count == 30 })
            let redis = try await RedisClient.connect(to: try server.configuration())
            let epoch = try #require(try await redis.send("HGET", RoomKeys(prefix: "test", room: "r").meta, "e").string)
            func replay(since: RoomPosition?, history: Int) async -> RedisRoomBroker.Replay {
                await withCheckedContinuation { continuation in
                    broker.replay("r", since: since, history: history) { continuation.resume(returning: $0) }
                }
            }
            func texts(_ replay: RedisRoomBroker.Replay) -> [String] {
                replay.messages.map { String(buffer: $0.envelope.payload) }
            }
            let resumed = await replay(since: RoomPosition(epoch: epoch, offset: 27), history: 2)
            #expect(resumed.resumed)
            #expect(texts(resumed) == ["m28", "m29", "m30"])
            #expect(resumed.position == RoomPosition(epoch: epoch, offset: 30))
            let upToDate = await replay(since: RoomPosition(epoch: epoch, offset: 30), history: 2)
            #expect(upToDate.resumed && upToDate.messages.isEmpty)
            // Trimmed away (stream_size 10), another epoch, or no since: the latest `history`.
            for since in [RoomPosition(epoch: epoch, offset: 1), RoomPosition(epoch: "beef", offset: 29), nil] {
                let reset = await replay(since: since, history: 2)
                #expect(reset.resumed == (since == nil))
                #expect(texts(reset) == ["m29", "m30"])
            }
            #expect(await replay(since: nil, history: 0).messages.isEmpty)
            // Published ten minutes ago by the publisher's clock: too old for a one-minute history.
            let old = RoomEnvelope(
                kind: .text, origin: broker.instanceID, sender: 0, publishedAt: RoomEnvelope.now() - 600_000,
                payload: ByteBuffer(string: "old"))
            _ = try await broker.publish(old, to: "r", keep: 50, ttl: .seconds(200_000)).get()
            let ttl = try #require(try await redis.send("TTL", RoomKeys(prefix: "test", room: "r").stream).int)
            #expect(ttl > 86_400)  // the longer of stream_ttl (24h) and the publish's ttl
            _ = try await broker.publish(text("m32", from: broker), to: "r").get()
            #expect(try await eventually { seen.all.count == 32 })
            let young = await withCheckedContinuation { continuation in
                broker.replay("r", since: nil, history: 3, maxAge: .seconds(60)) { continuation.resume(returning: $0) }
            }
            #expect(texts(young) == ["m30", "m32"])
            await redis.close()
            await broker.close()
        }
    }

    @Test func publishWhileRedisIsDown_throwsAtOnce() async throws {
        try await withRedisServer { server in
            let broker = try await startBroker(server, Deliveries())
            server.kill()
            // Once the loss is noticed, publishing throws at once (before, the publish fails in its future).
            let refused = try await eventually {
                do {
                    _ = try broker.publish(text("lost", from: broker), to: "r")
                    return false
                } catch {
                    return (error as? RedisClientError) == .notConnected(address: "127.0.0.1:\(server.port)")
                }
            }
            #expect(refused)
            #expect(!broker.isConnected)
            await broker.close()
        }
    }
    @Test func aGapThatCannotBeReadYet_waitsForTheCommandConnection_andIsFilledThen() async throws {
        try await withRedisServer { server in
            let admin = try await RedisClient.connect(to: try server.configuration())
            _ = try await admin.send("ACL", "SETUSER", "gate", "on", ">right", "~*", "&*", "+@all")
            var configuration = try RedisConfiguration(url: "redis://gate:right@127.0.0.1:\(server.port)")
            configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
            let seen = Deliveries()
            let broker = try await RedisRoomBroker.start(
                configuration: configuration, settings: RedisRoomBroker.Settings(prefix: "test", streamSize: 100),
                onDelivery: { seen.append($0) })
            broker.join("r")
            let base = try await broker.publish(text("m0", from: broker), to: "r").get()
            #expect(try await eventually { seen.all.count == 1 })
            // The command connection goes and cannot come back (its password changed); the subscriber stays.
            _ = try await admin.send("ACL", "SETUSER", "gate", "resetpass", ">wrong")
            _ = try await admin.send("CLIENT", "KILL", "TYPE", "normal")
            #expect(try await eventually { !broker.isConnected })
            // Two messages reach the stream without their PUBLISH, then one is heard: a gap that cannot be
            // read while the command connection is away.
            let keys = RoomKeys(prefix: "test", room: "r")
            let epoch = try #require(try await admin.send("HGET", keys.meta, "e").string)
            for step in 1...3 {
                _ = try await admin.send("HINCRBY", keys.meta, "s", 1)
                _ = try await admin.send(
                    "XADD", keys.stream, base + UInt64(step), "d", text("m\(step)", from: broker).encoded())
            }
            var heard = ByteBuffer(string: "\(base + 3):\(epoch):")
            var entry = text("m3", from: broker).encoded()
            heard.writeBuffer(&entry)
            _ = try await admin.send("PUBLISH", keys.channel, heard)
            try await Task.sleep(for: .milliseconds(300))
            #expect(seen.texts("r") == ["m0"])  // m3 waits: nothing is given up, nothing overtakes
            _ = try await admin.send("ACL", "SETUSER", "gate", "resetpass", ">right")
            #expect(try await eventually { seen.all.count == 4 })
            #expect(seen.texts("r") == ["m0", "m1", "m2", "m3"])
            #expect(seen.all.map(\.offset) == Array(base...base + 3))
            #expect(broker.statistics.lost == 0)
            await admin.close()
            await broker.close()
        }
    }
    @Test func offsetsTheStreamNoLongerHolds_areCountedAsLost_andSkipped() async throws {
        try await withRedisServer { server in
            let seen = Deliveries()
            let broker = try await startBroker(server, seen)
            broker.join("r")
            let base = try await broker.publish(text("m0", from: broker), to: "r").get()
            #expect(try await eventually { seen.all.count == 1 })
            // Two offsets taken whose entries are gone (as if trimmed), then a message that is heard.
            let admin = try await RedisClient.connect(to: try server.configuration())
            let keys = RoomKeys(prefix: "test", room: "r")
            let epoch = try #require(try await admin.send("HGET", keys.meta, "e").string)
            _ = try await admin.send("HINCRBY", keys.meta, "s", 3)
            _ = try await admin.send("XADD", keys.stream, base + 3, "d", text("m3", from: broker).encoded())
            var heard = ByteBuffer(string: "\(base + 3):\(epoch):")
            var entry = text("m3", from: broker).encoded()
            heard.writeBuffer(&entry)
            _ = try await admin.send("PUBLISH", keys.channel, heard)
            #expect(try await eventually { seen.all.count == 2 })
            #expect(seen.texts("r") == ["m0", "m3"])
            #expect(broker.statistics.lost == 2)
            await admin.close()
            await broker.close()
        }
    }
}
