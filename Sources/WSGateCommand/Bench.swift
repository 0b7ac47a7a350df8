import ArgumentParser
import Foundation
import WSGateBench

/// `wsgate bench URL`: a load client for sizing a deployment.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a WebSocket server and report throughput and latency percentiles.",
        discussion: """
            Modes (--mode):
              echo       --connections × --in-flight messages of --size bytes, each timed until its
                         echo returns (default 16 × 8 × 64 B text). The URL must echo.
              broadcast  --connections members on one URL (default 1,000); the first publishes
                         --messages (2,000) with --in-flight (32) outstanding, and every member
                         times every delivery. For a room such as a wsgate broadcast endpoint;
                         with --also, the members are spread over instances sharing the room.
              connect    sessions per second: --connections (8) at a time, each connects, sends
                         one message, waits for an answer, and closes.
              idle       opens --connections (1,000), --in-flight (64) dials at a time, and
                         holds them for --duration: watch the server's memory meanwhile.
            Every run stops after --messages units of work or --duration (default 10s),
            whichever comes first. Durations are 250ms, 15s, 2m or plain seconds.
            --deflate offers permessage-deflate with no context takeover either way; the run
            fails if the server refuses it. Latency comes from HdrHistogram (3 significant
            digits). A progress line shows on stderr when it is a terminal.
            wss:// verifies the server's certificate against the system's roots, or against
            --ca-file (a private CA, or a self-signed certificate that names the host).
            Exit codes: 0 done, 1 a connection or session failed or the server refused, 64 usage error.

            Examples:
              wsgate bench ws://127.0.0.1:8080/echo --connections 32 --in-flight 4 --size 16KiB
              wsgate bench ws://127.0.0.1:8080/chat/bench --mode broadcast --json
              wsgate bench wss://gw.example.com/echo --ca-file ca.pem
              wsgate bench ws://127.0.0.1:8080/room --also ws://127.0.0.1:8081/room --mode broadcast
            """
    )

    @Argument(help: "The server's ws:// or wss:// URL, e.g. ws://127.0.0.1:8080/echo.")
    var url: String

    @Option(
        help: ArgumentHelp(
            "Another URL (repeatable), e.g. the same room on another instance: connections are spread round robin over them.",
            valueName: "url"))
    var also: [String] = []

    @Option(help: "echo, broadcast, connect or idle.")
    var mode: String = "echo"

    @Option(help: "Connections (echo), members (broadcast), sessions at a time (connect), to hold (idle).")
    var connections: Int?

    @Option(name: .customLong("in-flight"), help: "Messages in flight per connection; dials at a time (idle).")
    var inFlight: Int?

    @Option(help: "Payload size: bytes, or 4KiB, 1MiB.")
    var size: String?

    @Flag(help: "Send binary messages instead of text.")
    var binary = false

    @Flag(help: "Offer permessage-deflate (no context takeover).")
    var deflate = false

    @Option(help: "Stop after this long (idle: hold this long).")
    var duration: String = "10s"

    @Option(help: "Stop after this many echoes, published messages or sessions.")
    var messages: Int?

    @Option(help: "Event loop threads of the load client.")
    var threads: Int = 1

    @Option(help: "Longest wait for a handshake, and for the last deliveries after publishing.")
    var timeout: String = "10s"

    @Option(
        help: ArgumentHelp(
            "For wss://, trust the CA certificate(s) in FILE (PEM) instead of the system's roots.",
            valueName: "FILE"))
    var caFile: String?

    @Flag(help: "Print the report as one JSON object on stdout.")
    var json = false

    func validate() throws {
        _ = try makePlan()
    }

    func run() async throws {
        let plan = try makePlan()
        let isTerminal = isatty(STDERR_FILENO) == 1
        // Milestones show on a terminal; idle's "holding" line always does, for scripts that wait for it.
        let showNotes = isTerminal || plan.mode == .idle
        let generator = LoadGenerator(plan: plan) { line in
            guard showNotes else { return }
            FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + "bench: \(line)\n").utf8))
        }
        let progress = isTerminal ? Task { await showProgress(generator.counters, unit: plan.mode.unit) } : nil
        let report: BenchReport
        do {
            report = try await generator.run()
        } catch {
            progress?.cancel()
            _ = await progress?.value
            FileHandle.standardError.write(Data("bench: \(error)\n".utf8))
            throw ExitCode(1)
        }
        progress?.cancel()
        _ = await progress?.value
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.summary)
        }
        // The report is printed either way; the exit code says whether every connection did its work.
        if report.failed > 0 || (report.deflate && !report.deflateNegotiated) { throw ExitCode(1) }
        if plan.mode != .idle && report.count == 0 { throw ExitCode(1) }
    }

    private func makePlan() throws -> BenchPlan {
        guard let mode = BenchMode(rawValue: mode) else {
            throw ValidationError("--mode must be echo, broadcast, connect or idle, not '\(mode)'")
        }
        guard let url = BenchURL(url) else {
            throw ValidationError("URL must be ws://HOST:PORT/PATH or wss://…, not '\(url)'")
        }
        var plan = BenchPlan(mode: mode, url: url)
        for text in also {
            guard let other = BenchURL(text) else {
                throw ValidationError("--also must be ws://HOST:PORT/PATH or wss://…, not '\(text)'")
            }
            plan.also.append(other)
        }
        if let connections { plan.connections = connections }
        if let inFlight { plan.inFlight = inFlight }
        if let size {
            guard let bytes = Self.parseSize(size) else {
                throw ValidationError("--size must be bytes or a size such as 16KiB, not '\(size)'")
            }
            plan.size = bytes
        }
        plan.binary = binary
        plan.deflate = deflate
        guard let duration = BenchPlan.parseDuration(duration) else {
            throw ValidationError("--duration must be a duration such as 10s or 500ms, not '\(duration)'")
        }
        plan.duration = duration
        guard let timeout = BenchPlan.parseDuration(timeout) else {
            throw ValidationError("--timeout must be a duration such as 10s, not '\(timeout)'")
        }
        plan.timeout = timeout
        if let messages { plan.messages = messages }
        plan.threads = threads
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw ValidationError("--ca-file: cannot read \(caFile)")
            }
            plan.caFile = caFile
        }
        if let problem = plan.problems.first { throw ValidationError(problem) }
        return plan
    }

    /// Bytes, or a number with KiB / MiB.
    static func parseSize(_ text: String) -> Int? {
        for (suffix, scale) in [("KiB", 1024), ("MiB", 1024 * 1024), ("B", 1)] where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return Int(text)
    }

    /// A line on stderr, rewritten twice a second, until cancelled.
    private func showProgress(_ counters: BenchCounters, unit: String) async {
        let clock = ContinuousClock()
        let start = clock.now
        var last = (time: start, count: 0)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            let now = clock.now
            let count = counters.completedCount
            let interval = (now - last.time) / .seconds(1)
            let rate = interval > 0 ? Double(count - last.count) / interval : 0
            last = (now, count)
            let elapsed = Int(((now - start) / .seconds(1)).rounded())
            var line = "\r\u{1B}[K\(elapsed) s  \(count) \(unit)  \(Int(rate.rounded()))/s"
            if unit == "connections" { line += "  \(counters.openCount) open" }
            line += "  \(counters.failedCount) failed"
            FileHandle.standardError.write(Data(line.utf8))
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
