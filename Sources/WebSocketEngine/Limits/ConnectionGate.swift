import NIOCore

/// Limits at the door, applied to WebSocket handshakes before they are answered
/// (`WebSocketServer.Configuration.connectionLimits`). Plain HTTP routes (health, metrics) are not
/// counted. The client address is the TCP peer's IP address.
public struct ConnectionLimits: Sendable, Equatable {
    /// Most sessions open at once from one client address; beyond it HTTP 429 with `Retry-After`.
    /// Default `Int.max` (unlimited).
    public var maxConnectionsPerAddress: Int
    /// New sessions per second over the whole server; beyond it HTTP 503 with `Retry-After`. Default nil
    /// (unlimited).
    public var newConnectionRate: RateLimit?
    /// New sessions per second from one client address; beyond it HTTP 429 with `Retry-After`. Default
    /// nil (unlimited).
    public var newConnectionRatePerAddress: RateLimit?
    /// Most client addresses remembered besides those with open sessions. An address with no open
    /// session whose rate bucket has refilled is forgotten at once (it holds nothing a new entry would
    /// not); when the table reaches this size, the addresses seen least recently are forgotten first (their
    /// rate starts afresh). Addresses with open sessions are never forgotten, so their count is exact.
    /// Default 100,000 (a few MiB).
    public var maxTrackedAddresses: Int

    /// Limits; by default none.
    public init(
        maxConnectionsPerAddress: Int = .max,
        newConnectionRate: RateLimit? = nil,
        newConnectionRatePerAddress: RateLimit? = nil,
        maxTrackedAddresses: Int = 100_000
    ) {
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.newConnectionRate = newConnectionRate
        self.newConnectionRatePerAddress = newConnectionRatePerAddress
        self.maxTrackedAddresses = maxTrackedAddresses
    }

    /// Whether any per-address limit is on (the gate then keeps a table of addresses).
    var tracksAddresses: Bool { maxConnectionsPerAddress != .max || newConnectionRatePerAddress != nil }
}

/// The state behind ``ConnectionLimits``: the server-wide bucket and a bounded table of client
/// addresses (open sessions and a rate bucket each). Time comes in as an argument.
package struct ConnectionGate: Sendable {
    /// What the gate says to a handshake.
    package enum Decision: Sendable, Equatable {
        /// Go on; `counted`: the session counts against its address until ``ConnectionGate/release(address:now:)``.
        case admit(counted: Bool)
        /// The address holds its maximum of sessions (429).
        case tooManyFromAddress(limit: Int)
        /// The address opens sessions too fast (429); retry after this long.
        case addressRateLimited(retryAfter: TimeAmount)
        /// The server as a whole opens sessions too fast (503); retry after this long.
        case rateLimited(retryAfter: TimeAmount)
    }

    private struct Entry: Sendable {
        var open = 0
        var bucket: TokenBucket?
        var lastSeen: NIODeadline

        mutating func isIdle(now: NIODeadline) -> Bool {
            guard open == 0 else { return false }
            return bucket?.isFull(now: now) ?? true
        }
    }

    package private(set) var limits: ConnectionLimits
    private var server: TokenBucket?
    private var entries: [String: Entry] = [:]
    /// The table is swept when it reaches this size (the cap, and after a sweep that freed too little,
    /// the size then plus a tenth of the cap: sweeping costs the table's size, so it happens at most once
    /// per tenth of the cap of new addresses).
    private var sweepAt: Int

    package init(_ limits: ConnectionLimits, now: NIODeadline) {
        self.limits = limits
        self.server = limits.newConnectionRate.map { TokenBucket($0, now: now) }
        self.sweepAt = max(1, limits.maxTrackedAddresses)
    }

    /// Addresses in the table now.
    package var trackedAddresses: Int { entries.count }

    /// Applies new limits to later handshakes: open sessions stay counted; rate buckets start full.
    package mutating func replaceLimits(_ limits: ConnectionLimits, now: NIODeadline) {
        guard limits != self.limits else { return }
        self.limits = limits
        server = limits.newConnectionRate.map { TokenBucket($0, now: now) }
        sweepAt = max(1, limits.maxTrackedAddresses)
        for (address, var entry) in entries {
            entry.bucket = limits.newConnectionRatePerAddress.map { TokenBucket($0, now: now) }
            if entry.isIdle(now: now) {
                entries[address] = nil
            } else {
                entries[address] = entry
            }
        }
    }

    /// Decides on a handshake from `address` (nil: no IP address, such as a Unix socket; only the
    /// server-wide rate applies).
    package mutating func admit(address: String?, now: NIODeadline) -> Decision {
        guard let address, limits.tracksAddresses else {
            if server?.take(1, now: now) == false {
                return .rateLimited(retryAfter: server?.wait(now: now) ?? .zero)
            }
            return .admit(counted: false)
        }
        var entry =
            entries[address]
            ?? Entry(bucket: limits.newConnectionRatePerAddress.map { TokenBucket($0, now: now) }, lastSeen: now)
        entry.lastSeen = now
        defer { store(entry, for: address, now: now) }
        if entry.open >= limits.maxConnectionsPerAddress {
            return .tooManyFromAddress(limit: limits.maxConnectionsPerAddress)
        }
        if entry.bucket?.allows(1, now: now) == false {
            return .addressRateLimited(retryAfter: entry.bucket?.wait(now: now) ?? .zero)
        }
        if server?.take(1, now: now) == false {
            return .rateLimited(retryAfter: server?.wait(now: now) ?? .zero)
        }
        _ = entry.bucket?.take(1, now: now)
        let counted = limits.maxConnectionsPerAddress != .max
        if counted { entry.open += 1 }
        return .admit(counted: counted)
    }

    /// Counts a session against an endpoint's own limit per address (`WebSocketOptions.maxConnectionsPerAddress`);
    /// false when `address` holds `limit` sessions of `endpoint` already. Release it with
    /// ``release(address:now:)`` and the key ``endpointKey(_:_:)``.
    package mutating func admit(address: String, endpoint: String, limit: Int, now: NIODeadline) -> Bool {
        let key = Self.endpointKey(endpoint, address)
        var entry = entries[key] ?? Entry(lastSeen: now)
        guard entry.open < limit else { return false }
        entry.open += 1
        entry.lastSeen = now
        store(entry, for: key, now: now)
        return true
    }

    /// The table key of an address's sessions on one endpoint (a NUL cannot occur in an address).
    package static func endpointKey(_ endpoint: String, _ address: String) -> String {
        "\(endpoint)\u{0}\(address)"
    }

    /// A session that was admitted with `counted: true` has ended (or was refused later on).
    package mutating func release(address: String, now: NIODeadline) {
        guard var entry = entries[address] else { return }
        entry.open = max(0, entry.open - 1)
        store(entry, for: address, now: now)
    }

    private mutating func store(_ entry: Entry, for address: String, now: NIODeadline) {
        var entry = entry
        if entry.isIdle(now: now) {
            entries[address] = nil
            return
        }
        let isNew = entries.updateValue(entry, forKey: address) == nil
        if isNew && entries.count >= sweepAt { sweep(now: now) }
    }

    /// Forgets idle addresses; when that leaves more than nine tenths of the cap without open sessions,
    /// forgets those seen least recently down to that.
    private mutating func sweep(now: NIODeadline) {
        let cap = max(1, limits.maxTrackedAddresses)
        var keep: [String: Entry] = [:]
        var candidates: [(address: String, lastSeen: NIODeadline)] = []
        for (address, var entry) in entries where !entry.isIdle(now: now) {
            keep[address] = entry
            if entry.open == 0 { candidates.append((address, entry.lastSeen)) }
        }
        let target = cap - cap / 10
        if candidates.count > target {
            candidates.sort { $0.lastSeen < $1.lastSeen }
            for candidate in candidates.prefix(candidates.count - target) { keep[candidate.address] = nil }
        }
        entries = keep
        sweepAt = max(cap, entries.count + max(1, cap / 10))
    }
}
