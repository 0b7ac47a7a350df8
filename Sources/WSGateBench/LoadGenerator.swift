import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WebSocketClient
import WebSocketEngine

/// Runs one benchmark plan against a server and reports what it measured.
///
/// Every connection is driven on its event loop by a ``BenchDriver``; this type dials, starts the
/// clock once every connection is open, waits for the drivers, and sums up.
public struct LoadGenerator: Sendable {
    public let plan: BenchPlan
    /// Live counts, for a progress line.
    public let counters = BenchCounters()
    private let note: @Sendable (String) -> Void
    private let errors = ErrorLog()

    /// - Parameter note: called with a line for the user at milestones (all connections open …).
    public init(plan: BenchPlan, note: @escaping @Sendable (String) -> Void = { _ in }) {
        self.plan = plan
        self.note = note
    }

    /// Runs the plan; throws when it is invalid or when the connections it needs cannot be opened.
    public func run() async throws -> BenchReport {
        guard plan.problems.isEmpty else { throw BenchError.invalidPlan(plan.problems) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: plan.threads)
        let result: Result<BenchReport, any Error>
        do {
            switch plan.mode {
            case .echo, .broadcast: result = .success(try await runSteady(group))
            case .connect: result = .success(try await runSessions(group))
            case .idle: result = .success(try await runIdle(group))
            }
        } catch {
            result = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try result.get()
    }

    // MARK: echo and broadcast

    private func runSteady(_ group: MultiThreadedEventLoopGroup) async throws -> BenchReport {
        let start = group.next().makePromise(of: UInt64.self)
        let latency = LatencyRecorder(shards: plan.threads * 2)
        let shared = RunShared(
            plan: plan, counters: counters, latency: latency, start: start.futureResult,
            payload: Self.payload(size: plan.size))
        let mode = plan.mode
        let dialed = await dialAll(group, count: plan.connections, concurrency: 64) { index, done in
            switch mode {
            case .broadcast:
                BroadcastDriver(shared: shared, shard: index, isPublisher: index == 0, done: done)
            default:
                EchoDriver(shared: shared, shard: index, done: done)
            }
        }
        var open: [Dialed] = []
        var firstError: (any Error)?
        for result in dialed {
            switch result {
            case .success(let connection): open.append(connection)
            case .failure(let error): firstError = firstError ?? error
            }
        }
        if firstError == nil, plan.deflate, open.contains(where: { !$0.deflate }) {
            firstError = BenchError.connection("the server did not agree to permessage-deflate")
        }
        if let firstError {
            start.fail(firstError)
            for connection in open { connection.close() }
            for connection in open { _ = try? await connection.done.get() }
            throw BenchError.connection(
                "\(plan.connections - open.count) of \(plan.connections) connections failed: \(firstError)")
        }
        note("\(open.count) connections open")
        if plan.mode == .broadcast {
            // Let the server put every member in the room before the first message.
            try? await Task.sleep(for: .milliseconds(200))
        }
        let began = NIODeadline.now()
        start.succeed(began.uptimeNanoseconds)
        var outcomes: [ConnectionOutcome] = []
        for connection in open { outcomes.append((try? await connection.done.get()) ?? ConnectionOutcome()) }
        let seconds = Double((NIODeadline.now() - began).nanoseconds) / 1e9
        for outcome in outcomes { if let error = outcome.error { errors.add(error) } }
        return report(
            seconds: seconds, count: outcomes.reduce(0) { $0 + $1.received },
            bytes: outcomes.reduce(0) { $0 + $1.bytesReceived }, sent: outcomes.reduce(0) { $0 + $1.sent },
            failed: outcomes.filter { $0.error != nil }.count, closedByServer: 0,
            deflateNegotiated: plan.deflate, latency: latency)
    }

    // MARK: connect

    private func runSessions(_ group: MultiThreadedEventLoopGroup) async throws -> BenchReport {
        let latency = LatencyRecorder(shards: plan.threads * 2)
        let began = NIODeadline.now()
        let deadline = began + .nanoseconds(plan.duration.nanoseconds)
        let negotiated = NIOLockedValueBox(true)
        let bytes = NIOLockedValueBox(0)
        await withTaskGroup(of: Void.self) { tasks in
            for worker in 0..<plan.connections {
                tasks.addTask { [self] in
                    var session = 0
                    while NIODeadline.now() < deadline, counters.claim(limit: plan.messages) {
                        session += 1
                        let sessionStart = NIODeadline.now()
                        let message = ByteBuffer(string: "session \(worker)-\(session)")
                        do {
                            let connection = try await dial(group) { _, done in
                                SessionDriver(message: message, done: done)
                            }
                            let outcome = try await connection.done.get()
                            if let error = outcome.error { throw BenchError.connection(error) }
                            if plan.deflate && !connection.deflate { negotiated.withLockedValue { $0 = false } }
                            let elapsed = NIODeadline.now() - sessionStart
                            latency.record(nanoseconds: UInt64(max(0, elapsed.nanoseconds)), shard: worker)
                            bytes.withLockedValue { $0 += outcome.bytesReceived }
                            counters.completed.wrappingAdd(1, ordering: .relaxed)
                        } catch {
                            counters.failed.wrappingAdd(1, ordering: .relaxed)
                            errors.add("\(error)")
                        }
                    }
                }
            }
        }
        let seconds = Double((NIODeadline.now() - began).nanoseconds) / 1e9
        let count = counters.completedCount
        return report(
            seconds: seconds, count: count, bytes: bytes.withLockedValue { $0 }, sent: count + counters.failedCount,
            failed: counters.failedCount, closedByServer: 0,
            deflateNegotiated: plan.deflate && negotiated.withLockedValue { $0 }, latency: latency)
    }

    // MARK: idle

    private func runIdle(_ group: MultiThreadedEventLoopGroup) async throws -> BenchReport {
        let latency = LatencyRecorder(shards: plan.threads * 2)
        let counters = self.counters
        let began = NIODeadline.now()
        let dialed = await dialAll(group, count: plan.connections, concurrency: plan.inFlight, latency: latency) {
            _, done in
            IdleDriver(counters: counters, done: done)
        }
        let dialSeconds = Double((NIODeadline.now() - began).nanoseconds) / 1e9
        var open: [Dialed] = []
        for result in dialed {
            switch result {
            case .success(let connection): open.append(connection)
            case .failure(let error):
                counters.failed.wrappingAdd(1, ordering: .relaxed)
                errors.add("\(error)")
            }
        }
        let held = open.count
        note("holding \(held) connections for \(BenchReport.fixed(plan.duration.seconds, 1)) s")
        let holdStart = NIODeadline.now()
        try? await Task.sleep(for: plan.duration)
        let holdSeconds = Double((NIODeadline.now() - holdStart).nanoseconds) / 1e9
        let stillOpen = counters.openCount
        for connection in open { connection.close() }
        var bytes = 0
        for connection in open { bytes += (try? await connection.done.get())?.bytesReceived ?? 0 }
        var summary = report(
            seconds: holdSeconds, count: held, bytes: 0, sent: 0, failed: counters.failedCount,
            closedByServer: held - stillOpen, deflateNegotiated: plan.deflate && open.allSatisfy(\.deflate),
            latency: latency)
        summary.perSecond = dialSeconds > 0 ? Double(held) / dialSeconds : 0
        summary.bytesPerSecond = holdSeconds > 0 ? Double(bytes) / holdSeconds : 0
        return summary
    }

    // MARK: dialling

    /// An open connection: whether deflate was agreed, and its driver's outcome.
    struct Dialed: Sendable {
        let connection: NIOLoopBound<BenchConnection>
        let deflate: Bool
        let done: EventLoopFuture<ConnectionOutcome>

        /// Starts the closing handshake, on the connection's loop.
        func close() {
            let connection = self.connection
            connection.eventLoop.execute { connection.value.close() }
        }
    }

    typealias DriverFactory = @Sendable (Int, EventLoopPromise<ConnectionOutcome>) -> any BenchDriver

    /// Dials `count` connections, `concurrency` at a time, each up to its accepted handshake.
    private func dialAll(
        _ group: MultiThreadedEventLoopGroup, count: Int, concurrency: Int, latency: LatencyRecorder? = nil,
        makeDriver: @escaping DriverFactory
    ) async -> [Result<Dialed, any Error>] {
        await withTaskGroup(of: (Int, Result<Dialed, any Error>).self) { tasks in
            var results = [Result<Dialed, any Error>?](repeating: nil, count: count)
            var next = 0
            func addOne() {
                let index = next
                next += 1
                tasks.addTask { [self] in
                    let begin = NIODeadline.now()
                    do {
                        let connection = try await dial(group, index: index, makeDriver: makeDriver)
                        latency?.record(
                            nanoseconds: UInt64(max(0, (NIODeadline.now() - begin).nanoseconds)), shard: index)
                        return (index, .success(connection))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            while next < min(count, max(1, concurrency)) { addOne() }
            while let (index, result) = await tasks.next() {
                results[index] = result
                if next < count { addOne() }
            }
            return results.map { $0 ?? .failure(BenchError.connection("not dialled")) }
        }
    }

    /// Opens one session of the engine's client with a ``BenchConnection`` and waits for its accepted handshake.
    private func dial(
        _ group: MultiThreadedEventLoopGroup, index: Int = 0, makeDriver: @escaping DriverFactory
    ) async throws -> Dialed {
        let url = plan.url(for: index).webSocketURL
        var settings = WebSocketClientOptions(
            webSocket: plan.sessionOptions, deflate: plan.deflate ? benchDeflate : nil,
            connectTimeout: plan.timeout, handshakeTimeout: plan.timeout, eventLoopGroup: group)
        if let caFile = plan.caFile { settings.tls.trustRoots = .file(caFile) }
        let options = settings
        var random = SystemRandomNumberGenerator()
        let handshake = ClientHandshake(
            target: url.target, host: url.hostHeader, key: ClientHandshake.randomKey(using: &random),
            extensionOffers: options.deflate.map { [PerMessageDeflateClientNegotiation.offer($0)] } ?? [],
            headers: [HTTPHeaderField("User-Agent", "wsgate-bench")])
        let logger = Logger(label: "wsgate.bench")
        let (connection, upgraded, done) = try await WebSocketClient.openChannel(url, options: options) { channel in
            let done = channel.eventLoop.makePromise(of: ConnectionOutcome.self)
            let connection = BenchConnection(driver: makeDriver(index, done), eventLoop: channel.eventLoop)
            let outcome = try WebSocketClientPipeline.configure(
                channel, handshake: handshake, requestHeaders: [], options: options.webSocket,
                deflate: options.deflate, handshakeTimeout: TimeAmount(options.handshakeTimeout), logger: logger,
                onMessage: { connection.received($0) })
            // Runs on the loop as the 101 is read, before the frames after it: the driver starts first.
            let upgraded = outcome.assumeIsolated().flatMapThrowing { outcome -> Bool in
                switch outcome {
                case .open(let session):
                    let deflate = session.request.responseHeaders.contains {
                        $0.name.lowercased() == "sec-websocket-extensions"
                            && $0.value.lowercased().contains("permessage-deflate")
                    }
                    connection.opened(session, deflate: deflate)
                    return deflate
                case .refused(let status, let reason, _):
                    throw BenchError.connection("the server answered HTTP \(status) \(reason), not 101")
                case .redirect(let status, let location):
                    throw BenchError.connection("the server redirected (HTTP \(status)) to \(location), not 101")
                }
            }
            upgraded.whenFailure { error in connection.failed(Self.describe(error, url: url, options: options)) }
            return (
                NIOLoopBound(connection, eventLoop: channel.eventLoop), upgraded.nonisolated(), done.futureResult
            )
        }
        do {
            let agreed = try await upgraded.get()
            return Dialed(connection: connection, deflate: agreed, done: done)
        } catch {
            _ = try? await done.get()
            throw BenchError.connection(Self.describe(error, url: url, options: options))
        }
    }

    /// What a failed handshake says to the user: the bench's own refusal, else the client's account of it.
    private static func describe(_ error: any Error, url: WebSocketURL, options: WebSocketClientOptions) -> String {
        if let refusal = error as? BenchError { return refusal.description }
        return WebSocketClient.handshakeFailure(error, url: url, timeout: options.handshakeTimeout).description
    }

    // MARK: summing up

    private func report(
        seconds: Double, count: Int, bytes: Int, sent: Int, failed: Int, closedByServer: Int,
        deflateNegotiated: Bool, latency: LatencyRecorder
    ) -> BenchReport {
        let histogram = latency.merged()
        return BenchReport(
            mode: plan.mode.rawValue, url: plan.url.description, connections: plan.connections,
            inFlight: plan.inFlight, size: plan.size, binary: plan.binary, deflate: plan.deflate,
            deflateNegotiated: deflateNegotiated, threads: plan.threads, seconds: seconds, unit: plan.mode.unit,
            count: count, perSecond: seconds > 0 ? Double(count) / seconds : 0,
            bytesPerSecond: seconds > 0 ? Double(bytes) / seconds : 0, sent: sent, failed: failed,
            closedByServer: closedByServer,
            latency: histogram.totalCount > 0 ? BenchReport.Latency(histogram) : nil,
            errors: errors.first)
    }

    /// The echo payload: text that compresses like prose rather than like one repeated byte (the same
    /// pattern as the Go echo client's).
    static func payload(size: Int) -> ByteBuffer {
        let pattern = Array(
            "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ".utf8)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        for index in 0..<size { buffer.writeInteger(pattern[index % pattern.count]) }
        return buffer
    }
}

/// The first few distinct errors of a run.
final class ErrorLog: Sendable {
    private let entries = NIOLockedValueBox<[String]>([])

    func add(_ error: String) {
        entries.withLockedValue { entries in
            if entries.count < 5 && !entries.contains(error) { entries.append(error) }
        }
    }

    var first: [String] { entries.withLockedValue { $0 } }
}
