import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

@testable import WSGateBench

/// `wsgate bench`'s load generator against an in-process echo server on 127.0.0.1:0.
@Suite struct LoadGeneratorTests {
    private func echoRouter(deflate: Bool = false) throws -> WebSocketRouter {
        var router = WebSocketRouter()
        let extensions: [any WebSocketExtensionFactory] = deflate ? [PerMessageDeflateFactory()] : []
        try router.webSocket("/echo", options: WebSocketOptions(pingPeriod: .zero, extensions: extensions)) { session in
            for await frame in session.incoming { try await session.send(frame) }
        }
        return router
    }

    private func plan(_ mode: BenchMode, port: Int) throws -> BenchPlan {
        var plan = BenchPlan(mode: mode, url: try #require(BenchURL("ws://127.0.0.1:\(port)/echo")))
        plan.duration = .seconds(5)
        return plan
    }

    @Test func echo_countsEveryEcho_andStopsAtTheBudget() async throws {
        try await withTestServer(try echoRouter()) { server in
            var plan = try plan(.echo, port: server.port)
            plan.connections = 4
            plan.inFlight = 4
            plan.messages = 2000
            plan.size = 300
            let report = try await LoadGenerator(plan: plan).run()
            #expect(report.count == 2000)
            #expect(report.sent == 2000)
            #expect(report.failed == 0)
            #expect(report.latency?.samples == 2000)
            #expect(report.bytesPerSecond > 0)
        }
    }

    @Test func echo_withDeflate_negotiatesAndChecksEverySize() async throws {
        try await withTestServer(try echoRouter(deflate: true)) { server in
            var plan = try plan(.echo, port: server.port)
            plan.connections = 2
            plan.messages = 400
            plan.size = 16 * 1024
            plan.binary = true
            plan.deflate = true
            let report = try await LoadGenerator(plan: plan).run()
            #expect(report.deflateNegotiated)
            #expect(report.count == 400)
            #expect(report.errors.isEmpty)
        }
    }

    @Test func echo_withDeflate_failsWhenTheServerRefusesIt() async throws {
        try await withTestServer(try echoRouter(deflate: false)) { server in
            var plan = try plan(.echo, port: server.port)
            plan.connections = 1
            plan.deflate = true
            await #expect(throws: BenchError.self) { try await LoadGenerator(plan: plan).run() }
        }
    }

    @Test func connect_completesEachSessionWithARoundTrip() async throws {
        try await withTestServer(try echoRouter()) { server in
            var plan = try plan(.connect, port: server.port)
            plan.connections = 4
            plan.messages = 40
            // It ends after the 40 sessions; the budget only bounds a loaded machine (the whole suite in
            // parallel once managed 31 in 5 s).
            plan.duration = .seconds(30)
            let report = try await LoadGenerator(plan: plan).run()
            #expect(report.count == 40)
            #expect(report.failed == 0)
            #expect(report.latency?.samples == 40)
        }
    }

    @Test func idle_holdsTheConnections_thenClosesThem() async throws {
        try await withTestServer(try echoRouter()) { server in
            var plan = try plan(.idle, port: server.port)
            plan.connections = 50
            plan.duration = .milliseconds(300)
            let report = try await LoadGenerator(plan: plan).run()
            #expect(report.count == 50)
            #expect(report.closedByServer == 0)
            #expect(report.latency?.samples == 50)
        }
    }

    @Test func unreachableServer_failsWithTheReason() async throws {
        var plan = try plan(.echo, port: 1)
        plan.connections = 1
        plan.timeout = .seconds(2)
        await #expect(throws: BenchError.self) { try await LoadGenerator(plan: plan).run() }
    }
}
