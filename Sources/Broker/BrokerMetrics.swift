import CoreMetrics

/// The broker's `wsgate_broker_*` metrics (swift-metrics; `wsgate serve` exports them on its metrics
/// path).
struct BrokerMetrics: Sendable {
    /// Messages Redis accepted (each took its room's next offset).
    let publishes = Counter(label: "wsgate_broker_publishes_total")
    /// Publishes that failed after they were sent: timed out, or the connection closed under them
    /// (they may or may not have run).
    let publishErrors = Counter(label: "wsgate_broker_publish_errors_total")
    /// Connections re-established, per connection (`command`, `subscriber`).
    let commandReconnects = Counter(label: "wsgate_broker_reconnects_total", dimensions: [("connection", "command")])
    let subscriberReconnects = Counter(
        label: "wsgate_broker_reconnects_total", dimensions: [("connection", "subscriber")])
    /// Rooms read from their streams after a gap, a resubscription or a reconnection.
    let catchUps = Counter(label: "wsgate_broker_catchups_total")
    /// Messages read from the streams by those catch-ups.
    let filled = Counter(label: "wsgate_broker_filled_total")
    /// Messages the subscriber dropped because this instance fell more than its buffer behind (the
    /// next message's gap reads them back from the stream while it holds them).
    let dropped = Counter(label: "wsgate_broker_dropped_total")
    /// Offsets given up on: the stream no longer held them.
    let lost = Counter(label: "wsgate_broker_lost_total")
    /// From publish (the publisher's clock) to delivery here (this instance's clock).
    let deliveryLag = Timer(label: "wsgate_broker_delivery_lag_seconds", preferredDisplayUnit: .seconds)
    /// 1 while both connections to Redis are up, else 0.
    let connected = Gauge(label: "wsgate_broker_connected")
}
