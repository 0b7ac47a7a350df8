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

@Suite(.serialized, .enabled(if: RedisServer.binary != nil, Comment(rawValue: RedisServer.missingMessage)))
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
}
