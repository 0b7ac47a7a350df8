import Broker
import CoreMetrics
import GatewayConfig
import Logging
import RedisClient
import Synchronization

/// The gateway's side of `broker:`: one ``RedisRoomBroker`` for the whole process, and the rooms
/// its deliveries go to.
///
/// A room is known to Redis as `ENDPOINT_PATH#ROOM`, so the same room name in two endpoints stays two
/// rooms, and every instance with the same configuration shares each of them. Changing `broker:`
/// needs a restart; endpoints added or changed by a reload register their rooms here.
public final class GatewayBroker: Sendable {
    let broker: RedisRoomBroker
    /// `broker:` as configured.
    public let settings: BrokerSettings
    private let hubs: HubDirectory
    /// Members' messages Redis could not take: refused (`reject`) and delivered here only (`local`).
    private let unavailable = Mutex<(rejected: Int, local: Int)>((0, 0))
    private let rejectedMetric = Counter(
        label: "wsgate_broker_unavailable_total", dimensions: [("outcome", "rejected")])
    private let localMetric = Counter(label: "wsgate_broker_unavailable_total", dimensions: [("outcome", "local")])

    private init(broker: RedisRoomBroker, settings: BrokerSettings, hubs: HubDirectory) {
        self.broker = broker
        self.settings = settings
        self.hubs = hubs
    }

    /// Connects to the broker's Redis (a command and a subscriber connection); throws what went wrong
    /// (unreachable, refused credentials) so that `wsgate serve` can say it before listening.
    public static func start(_ settings: BrokerSettings, logger: Logger = Logger(label: "wsgate.broker"))
        async throws -> GatewayBroker
    {
        let hubs = HubDirectory()
        var configuration = try RedisConfiguration(url: settings.url)
        configuration.commandTimeout = settings.commandTimeout
        let broker = try await RedisRoomBroker.start(
            configuration: configuration,
            settings: RedisRoomBroker.Settings(
                prefix: settings.prefix,
                streamSize: settings.streamSize,
                streamTTL: settings.streamTTL
            ),
            logger: logger,
            onDelivery: { hubs.deliver($0) }
        )
        return GatewayBroker(broker: broker, settings: settings, hubs: hubs)
    }

    /// The name Redis knows a room of an endpoint by.
    static func roomKey(endpoint: String, room: String) -> String { "\(endpoint)#\(room)" }

    /// Routes the deliveries for `endpoint`'s rooms to `hub` (the latest registered wins: a reload).
    func register(_ hub: RoomHub, endpoint: String) {
        hubs.register(hub, endpoint: endpoint)
    }

    /// Counts a member's message that Redis could not take, as `on_unavailable` handled it.
    func countUnavailable() {
        switch settings.onUnavailable {
        case .reject:
            unavailable.withLock { $0.rejected += 1 }
            rejectedMetric.increment()
        case .local:
            unavailable.withLock { $0.local += 1 }
            localMetric.increment()
        }
    }

    /// Members' messages refused (`on_unavailable: reject`) and delivered on this instance only
    /// (`local`) because Redis could not be reached.
    public var unavailableCounts: (rejected: Int, local: Int) { unavailable.withLock { $0 } }

    /// Counters of the broker (deliveries, duplicates, gap fills, losses).
    public var statistics: RedisRoomBroker.Statistics { broker.statistics }

    /// True while both Redis connections are up.
    public var isConnected: Bool { broker.isConnected }

    /// Whether the command connection is up: members' messages are published (false: `on_unavailable`
    /// applies at once).
    public var acceptsPublishes: Bool { broker.acceptsPublishes }

    /// The broker's part of the health document: `state` (`connected` or `reconnecting`; sessions stay
    /// open either way) and the counters of ``RedisRoomBroker/Statistics``.
    func healthJSON() -> String {
        let counts = broker.statistics
        let (rejected, local) = unavailableCounts
        return #"{"state":"\#(isConnected ? "connected" : "reconnecting")","published":\#(counts.published),"#
            + #""publish_errors":\#(counts.publishErrors),"delivered":\#(counts.delivered),"#
            + #""reconnects":\#(counts.reconnects),"catch_ups":\#(counts.catchUps),"filled":\#(counts.filled),"#
            + #""dropped":\#(counts.dropped),"lost":\#(counts.lost),"duplicates":\#(counts.duplicates),"#
            + #""rejected":\#(rejected),"local":\#(local),"delivery_lag_ms":\#(counts.lastLagMilliseconds)}"#
    }

    /// Sends a request to every instance sharing this broker (see ``RedisRoomBroker/ask(_:timeout:)``).
    func ask(_ request: [UInt8]) async throws -> InstanceAnswers {
        try await broker.ask(request, timeout: .seconds(1))
    }

    /// What this instance answers to the other instances' requests.
    func answerRequests(with answerer: @escaping @Sendable ([UInt8]) async -> [UInt8]) {
        broker.answerRequests(with: answerer)
    }

    /// Closes both Redis connections.
    public func close() async {
        await broker.close()
    }
}

/// Endpoint path → the hub of its rooms.
final class HubDirectory: Sendable {
    private let hubs = Mutex<[String: RoomHub]>([:])

    func register(_ hub: RoomHub, endpoint: String) {
        hubs.withLock { $0[endpoint] = hub }
    }

    func deliver(_ delivery: RedisRoomBroker.Delivery) {
        guard let separator = delivery.room.firstIndex(of: "#") else { return }
        let endpoint = String(delivery.room[..<separator])
        let room = String(delivery.room[delivery.room.index(after: separator)...])
        hubs.withLock { $0[endpoint] }?.deliver(delivery.envelope, room: room)
    }
}
