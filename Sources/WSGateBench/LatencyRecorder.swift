import Histogram
import NIOConcurrencyHelpers
import Synchronization

/// Latencies in microseconds, recorded from every event loop into HdrHistograms: one per shard, so
/// connections on different threads rarely meet on a lock; merged once at the end.
final class LatencyRecorder: Sendable {
    /// Longest latency told apart: a minute; longer ones count as a minute.
    static let highestMicroseconds: UInt64 = 60_000_000
    private let shards: [NIOLockedValueBox<Histogram<UInt64>>]

    init(shards: Int) {
        self.shards = (0..<max(1, shards)).map { _ in
            NIOLockedValueBox(Histogram<UInt64>(highestTrackableValue: Self.highestMicroseconds))
        }
    }

    func record(nanoseconds: UInt64, shard: Int) {
        let micros = min(max(1, nanoseconds / 1000), Self.highestMicroseconds)
        _ = shards[shard % shards.count].withLockedValue { $0.record(micros) }
    }

    func merged() -> Histogram<UInt64> {
        var all = Histogram<UInt64>(highestTrackableValue: Self.highestMicroseconds)
        for shard in shards { all.add(shard.withLockedValue { $0 }) }
        return all
    }
}

/// Counters every connection updates and the progress line reads.
public final class BenchCounters: Sendable {
    /// Units of work started (messages sent, sessions begun): the budget of `--messages`.
    let started = Atomic<Int>(0)
    /// Units of work done (echoes, deliveries, sessions, connections open).
    let completed = Atomic<Int>(0)
    /// Connections open now.
    let open = Atomic<Int>(0)
    /// Connections or sessions that failed.
    let failed = Atomic<Int>(0)

    public init() {}

    /// Takes one unit of the budget; false once `limit` units were taken.
    func claim(limit: Int) -> Bool {
        started.wrappingAdd(1, ordering: .relaxed).newValue <= limit
    }

    /// Units of work done so far.
    public var completedCount: Int { completed.load(ordering: .relaxed) }
    /// Connections open now.
    public var openCount: Int { open.load(ordering: .relaxed) }
    /// Failures so far.
    public var failedCount: Int { failed.load(ordering: .relaxed) }
}
