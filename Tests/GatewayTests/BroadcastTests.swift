import Foundation
import Gateway
import GatewayConfig
import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

#if canImport(Glibc)
    import Glibc
#endif

func application(_ yaml: String) throws -> GatewayApplication {
    try GatewayApplication(ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: ".").configuration)
}

/// The next text frame, skipping pings.
func nextText(_ client: WebSocketTestClient, timeout: Duration = .seconds(10)) async throws -> String? {
    while true {
        let frame = try await client.receive(timeout: timeout)
        if case .ping = frame { continue }
        return frame.readText()
    }
}

/// Raises the open-file limit so a test can hold a thousand connections on both sides.
func raiseDescriptorLimit(to wanted: rlim_t = 8192) {
    #if canImport(Glibc)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    #endif
}

func residentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kib / 1024
}

@Suite(.serialized) struct BroadcastTests {
    @Test func defaults_holdKtorsChatConversation() async throws {
        let app = try application(Gateway.embeddedDefaultConfiguration)
        try await withTestServer(app.router) { server in
            let first = try await server.connect("/chat")
            #expect(try await nextText(first) == "You've logged in as [user0]")
            let second = try await server.connect("/chat")
            #expect(try await nextText(second) == "You've logged in as [user1]")
            try await first.send("hello")
            #expect(try await nextText(first) == "[user0]: hello")
            #expect(try await nextText(second) == "[user0]: hello")
            try await second.send(.binary([1, 2, 3]))
            #expect(try await first.receive() == .binary([1, 2, 3]))
            #expect(try await second.receive() == .binary([1, 2, 3]))
        }
    }

    /// `{n}` is taken when the handshake is answered, so a member that connected after another's 101 has
    /// the higher number however their handlers happen to be scheduled (once a CI flake).
    @Test func memberNumbers_followTheOrderOfTheHandshakes() async throws {
        let app = try application("version: 1\nendpoints:\n  - { path: /room, type: broadcast, ping_period: 0 }\n")
        try await withTestServer(app.router) { server in
            var members: [WebSocketTestClient] = []
            for _ in 0..<40 { members.append(try await server.connect("/room")) }
            for (index, member) in members.enumerated() {
                #expect(try await nextText(member) == "You've logged in as [user\(index)]")
            }
        }
    }

    @Test func thousandMembers_eachReceiveEveryMessage_inOrder() async throws {
        raiseDescriptorLimit()
        let app = try application("version: 1\nendpoints:\n  - { path: /room, type: broadcast, ping_period: 0 }\n")
        try await withTestServer(app.router) { server in
            var members: [WebSocketTestClient] = []
            for batch in 0..<20 {
                let joined = try await withThrowingTaskGroup(of: WebSocketTestClient.self) { group in
                    for _ in 0..<50 { group.addTask { try await server.connect("/room") } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                members += joined
                #expect(members.count == (batch + 1) * 50)
            }
            for member in members { #expect(try await nextText(member)?.hasPrefix("You've logged in as") == true) }
            #expect(app.roomStatistics(path: "/room")?.members == ["/room": 1000])
            let publisher = members[0]
            for i in 0..<20 { try await publisher.send("m\(i)") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for member in members {
                    group.addTask {
                        for i in 0..<20 {
                            let text = try await nextText(member)
                            #expect(text?.hasSuffix(": m\(i)") == true)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let statistics = try #require(app.roomStatistics(path: "/room"))
            #expect(statistics.messagesIn == 20)
            #expect(statistics.deliveries == 20_000 + 1000)  // the messages and the welcomes
            for member in members { await member.disconnect() }
        }
    }

    @Test(arguments: [BroadcastSettings.SlowClient.close, .drop])
    func memberThatStopsReading_doesNotHoldBackTheOthers(_ policy: BroadcastSettings.SlowClient) async throws {
        let app = try application(
            """
            version: 1
            endpoints:
              - { path: /room, type: broadcast, ping_period: 0, max_queue: 4MiB, slow_client: \(policy.rawValue) }
            """
        )
        try await withTestServer(app.router) { server in
            let slow = try await server.connect("/room")
            let fast = try await server.connect("/room")
            let publisher = try await server.connect("/room")
            for member in [slow, fast, publisher] { _ = try await nextText(member) }
            try await slow.pauseReading()
            // 1000 messages of 32 KiB: 32 MiB, far beyond the slow member's socket buffers (a few MiB on
            // loopback) and its 4 MiB queue. The queue is large enough that the fast member, which reads in
            // this same process, never looks slow on a loaded machine.
            let body = String(repeating: "x", count: 32 * 1024)
            for i in 0..<1000 { try await publisher.send("\(i) \(body)") }
            for i in 0..<1000 {
                #expect(try await nextText(fast)?.hasPrefix("[user2]: \(i) ") == true)
            }
            let statistics = try #require(app.roomStatistics(path: "/room"))
            switch policy {
            case .close:
                #expect(statistics.slowCloses == 1)
                #expect(statistics.members["/room"] == 2 || statistics.members["/room"] == 3)
                try await slow.resumeReading()
                var reason: CloseReason?
                while reason == nil {
                    if case .close(let found) = try await slow.receive(timeout: .seconds(10)) { reason = found }
                }
                #expect(reason?.code == .policyViolation)
                #expect(reason?.message == "slow consumer: more than 4MiB queued")
            case .drop:
                #expect(statistics.slowCloses == 0)
                #expect(statistics.drops > 0)
                try await slow.resumeReading()
                // Once its queue drains the member gets messages again; until then they are dropped for it,
                // so keep publishing (bounded) until one arrives.
                var recovered = false
                for attempt in 0..<50 where !recovered {
                    try await publisher.send("after \(attempt)")
                    while let text = try? await nextText(slow, timeout: .milliseconds(200)) {
                        if text.hasPrefix("[user2]: after") {
                            recovered = true
                            break
                        }
                    }
                }
                #expect(recovered, "the slow member never got messages again after it resumed reading")
            }
        }
    }

    @Test func roomsByPath_areIsolated_andHistoryIsReplayed() async throws {
        let app = try application(
            """
            version: 1
            endpoints:
              - path: /rooms/{room}
                type: broadcast
                room: "{room}"
                welcome: "welcome to {room}, {name}"
                format: "{room}/{name}: {message}"
                history: 2
            """
        )
        try await withTestServer(app.router) { server in
            let x = try await server.connect("/rooms/x")
            let y = try await server.connect("/rooms/y")
            #expect(try await nextText(x) == "welcome to x, user0")
            #expect(try await nextText(y) == "welcome to y, user1")
            for text in ["one", "two", "three"] { try await x.send(text) }
            for text in ["one", "two", "three"] { #expect(try await nextText(x) == "x/user0: \(text)") }
            await #expect(throws: WebSocketTestClient.ClientError.self) {
                _ = try await y.receive(timeout: .milliseconds(300))
            }
            let late = try await server.connect("/rooms/x")
            #expect(try await nextText(late) == "welcome to x, user2")
            #expect(try await nextText(late) == "x/user0: two")
            #expect(try await nextText(late) == "x/user0: three")
        }
    }

    @Test func historyTTL_replaysOnlyMessagesYoungerThanIt() async throws {
        let app = try application(
            """
            version: 1
            endpoints:
              - { path: /r, type: broadcast, welcome: null, format: "{message}", history: 5, history_ttl: 300ms }
            """
        )
        try await withTestServer(app.router) { server in
            let talker = try await server.connect("/r")
            try await talker.send("old")
            #expect(try await nextText(talker) == "old")
            try await Task.sleep(for: .milliseconds(400))
            try await talker.send("new")
            #expect(try await nextText(talker) == "new")
            let late = try await server.connect("/r")
            #expect(try await nextText(late) == "new")
            await #expect(throws: WebSocketTestClient.ClientError.self) {
                _ = try await late.receive(timeout: .milliseconds(200))
            }
        }
    }

    @Test func namesFromTheQuery_areValidated() async throws {
        let app = try application(
            "version: 1\nendpoints:\n  - { path: /c, type: broadcast, name: \"{query.nick}\", announce: { join: \"{name} joined\" } }\n"
        )
        try await withTestServer(app.router) { server in
            let ann = try await server.connect("/c?nick=ann")
            #expect(try await nextText(ann) == "You've logged in as [ann]")
            let bob = try await server.connect("/c?nick=bob")
            #expect(try await nextText(ann) == "bob joined")
            #expect(try await nextText(bob) == "You've logged in as [bob]")
            let bad = try await server.connect("/c?nick=%3Cscript%3E")
            #expect(
                try await bad.receive()
                    == .close(
                        CloseReason(
                            .policyViolation, "query parameter 'nick' must be 1 to 32 letters, digits, '_', '-' or '.'")
                    )
            )
        }
    }

    @Test func tenThousandJoinsAndLeaves_leaveNoRoomsAndFlatMemory() async throws {
        raiseDescriptorLimit()
        let app = try application(
            "version: 1\nendpoints:\n  - { path: \"/r/{id}\", type: broadcast, room: \"{id}\", welcome: null }\n")
        try await withTestServer(app.router) { server in
            func churn(_ rounds: Int) async throws {
                for round in 0..<rounds {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for i in 0..<100 {
                            group.addTask {
                                let client = try await server.connect("/r/\((round * 100 + i) % 37)")
                                await client.disconnect()
                            }
                        }
                        try await group.waitForAll()
                    }
                }
            }
            try await churn(10)  // warm up allocator pools
            let before = residentMiB()
            try await churn(100)
            var statistics = app.roomStatistics(path: "/r/{id}")
            for _ in 0..<100 where statistics?.members.isEmpty == false {
                try await Task.sleep(for: .milliseconds(20))
                statistics = app.roomStatistics(path: "/r/{id}")
            }
            #expect(statistics?.members == [:])
            #expect(statistics?.idleRooms == 0)
            let grown = residentMiB() - before
            #expect(grown < 40, "resident memory grew \(grown) MiB over 10,000 joins and leaves")
        }
    }
}
