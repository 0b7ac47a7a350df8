import Histogram

/// The result of one `wsgate bench` run; `--json` prints it with snake_case keys.
public struct BenchReport: Codable, Sendable, Equatable {
    /// Latency percentiles in milliseconds: the round trip of a message (echo), the time from
    /// publishing to delivery (broadcast), a whole session (connect) or a handshake (idle).
    public struct Latency: Codable, Sendable, Equatable {
        public var samples: Int
        public var p50Ms: Double
        public var p90Ms: Double
        public var p99Ms: Double
        public var p999Ms: Double
        public var maxMs: Double
        public var meanMs: Double

        init(_ histogram: Histogram<UInt64>) {
            samples = Int(histogram.totalCount)
            let ms = { (micros: UInt64) in Double(micros) / 1000 }
            p50Ms = ms(histogram.valueAtPercentile(50))
            p90Ms = ms(histogram.valueAtPercentile(90))
            p99Ms = ms(histogram.valueAtPercentile(99))
            p999Ms = ms(histogram.valueAtPercentile(99.9))
            maxMs = ms(histogram.max)
            meanMs = histogram.mean / 1000
        }
    }

    public var mode: String
    public var url: String
    public var connections: Int
    public var inFlight: Int
    public var size: Int
    public var binary: Bool
    /// permessage-deflate was asked for …
    public var deflate: Bool
    /// … and every connection got it.
    public var deflateNegotiated: Bool
    public var threads: Int
    /// How long the load ran (idle: how long the connections were held).
    public var seconds: Double
    /// What `count` counts: messages, deliveries, sessions or connections.
    public var unit: String
    /// Units of work done: echoes received, deliveries, sessions completed, connections held.
    public var count: Int
    /// `count` / `seconds` (idle: connections opened per second while dialling).
    public var perSecond: Double
    /// Payload bytes received per second.
    public var bytesPerSecond: Double
    /// Messages sent (echo, broadcast) or sessions begun (connect).
    public var sent: Int
    /// Connections or sessions that failed or ended early.
    public var failed: Int
    /// Idle: connections the server closed while they were held.
    public var closedByServer: Int
    public var latency: Latency?
    /// The first few errors, for the user to read.
    public var errors: [String]

    /// The report as a few lines for a terminal.
    public var summary: String {
        var lines: [String] = []
        var shape = "\(mode) \(url): \(connections) connection\(connections == 1 ? "" : "s")"
        switch mode {
        case BenchMode.echo.rawValue:
            shape += " × \(inFlight) in flight, \(size) B \(binary ? "binary" : "text")"
        case BenchMode.broadcast.rawValue:
            shape += " (one publishes, \(inFlight) in flight), \(size) B"
        case BenchMode.connect.rawValue:
            shape += " at a time, one round trip each"
        default:
            break
        }
        if deflate { shape += deflateNegotiated ? ", permessage-deflate" : ", permessage-deflate REFUSED" }
        lines.append(shape)
        var rate =
            "  \(Self.grouped(count)) \(unit) in \(Self.fixed(seconds, 2)) s: \(Self.grouped(Int(perSecond.rounded()))) \(unit)/s"
        if bytesPerSecond > 0 && (mode == BenchMode.echo.rawValue || mode == BenchMode.broadcast.rawValue) {
            rate += " (\(Self.fixed(bytesPerSecond / 1_000_000, 1)) MB/s of payload)"
        }
        lines.append(rate)
        if let latency {
            lines.append(
                "  latency ms: p50 \(Self.fixed(latency.p50Ms, 3))  p90 \(Self.fixed(latency.p90Ms, 3))"
                    + "  p99 \(Self.fixed(latency.p99Ms, 3))  p99.9 \(Self.fixed(latency.p999Ms, 3))"
                    + "  max \(Self.fixed(latency.maxMs, 3))")
        }
        if failed > 0 || closedByServer > 0 {
            lines.append("  failed \(failed), closed by the server \(closedByServer)")
        }
        for error in errors { lines.append("  error: \(error)") }
        return lines.joined(separator: "\n")
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return value < 0 ? "-" + result : result
    }

    /// `value` with `places` decimals.
    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((value * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(abs(scaled % Int(scale)))
        let padded = String(repeating: "0", count: max(0, places - fraction.count)) + fraction
        let sign = scaled < 0 && whole == 0 ? "-" : ""
        return places == 0 ? "\(whole)" : "\(sign)\(whole).\(padded)"
    }
}
