import CoreMetrics
import NIOConcurrencyHelpers

/// The engine's metrics, reported through swift-metrics: the application picks the backend (wsgate
/// bootstraps Prometheus). Metric objects are made once per endpoint and shared by its connections.
///
/// Names (dimensions in braces): `wsgate_connections_open{endpoint}`, `wsgate_connections_total{endpoint}`,
/// `wsgate_handshakes_refused_total{reason}`, `wsgate_messages_received_total{endpoint}`,
/// `wsgate_messages_sent_total{endpoint}`, `wsgate_bytes_received_total{endpoint}`,
/// `wsgate_bytes_sent_total{endpoint}`, `wsgate_closes_total{endpoint,code}`,
/// `wsgate_pings_sent_total{endpoint}`, `wsgate_keepalive_timeouts_total{endpoint}`,
/// `wsgate_compression_bytes_total{endpoint,direction,form}`, `wsgate_rate_limited_total{endpoint,action}`.
final class EngineMetrics: Sendable {
    private let factory: any MetricsFactory
    private let endpoints = NIOLockedValueBox<[String: EndpointMetrics]>([:])
    private let refusals = NIOLockedValueBox<[String: Counter]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// The metrics of the endpoint whose route is `path` (the template, so cardinality stays bounded).
    func endpoint(_ path: String) -> EndpointMetrics {
        endpoints.withLockedValue { all in
            if let existing = all[path] { return existing }
            let made = EndpointMetrics(endpoint: path, factory: factory)
            all[path] = made
            return made
        }
    }

    /// Counts a refused handshake.
    func refused(_ reason: HandshakeRefusal) {
        refused(reason: reason.rawValue)
    }

    /// Counts a refused handshake under a reason an admission check named.
    func refused(reason: String) {
        let counter = refusals.withLockedValue { all in
            if let existing = all[reason] { return existing }
            let made = Counter(
                label: "wsgate_handshakes_refused_total", dimensions: [("reason", reason)], factory: factory)
            all[reason] = made
            return made
        }
        counter.increment()
    }
}

/// The metrics of one endpoint.
final class EndpointMetrics: Sendable {
    let open: Meter
    let opened: Counter
    let messagesReceived: Counter
    let messagesSent: Counter
    let bytesReceived: Counter
    let bytesSent: Counter
    let pingsSent: Counter
    let keepAliveTimeouts: Counter
    /// Message bytes through the negotiated extensions (permessage-deflate): what the peer sent on the
    /// wire and what it decoded to; what the handler sent and what went on the wire.
    let receivedCompressed: Counter
    let receivedUncompressed: Counter
    let sentUncompressed: Counter
    let sentCompressed: Counter
    /// Messages over the endpoint's rate limit (`wsgate_rate_limited_total{endpoint,action}`): dropped,
    /// or the one that closed its connection with 1008.
    let rateLimitedDropped: Counter
    let rateLimitedClosed: Counter
    private let endpoint: String
    private let factory: any MetricsFactory
    private let closes = NIOLockedValueBox<[String: Counter]>([:])

    init(endpoint: String, factory: any MetricsFactory) {
        self.endpoint = endpoint
        self.factory = factory
        let dimensions = [("endpoint", endpoint)]
        func counter(_ name: String, _ more: [(String, String)] = []) -> Counter {
            Counter(label: name, dimensions: dimensions + more, factory: factory)
        }
        open = Meter(label: "wsgate_connections_open", dimensions: dimensions, factory: factory)
        opened = counter("wsgate_connections_total")
        messagesReceived = counter("wsgate_messages_received_total")
        messagesSent = counter("wsgate_messages_sent_total")
        bytesReceived = counter("wsgate_bytes_received_total")
        bytesSent = counter("wsgate_bytes_sent_total")
        pingsSent = counter("wsgate_pings_sent_total")
        keepAliveTimeouts = counter("wsgate_keepalive_timeouts_total")
        let compression = "wsgate_compression_bytes_total"
        receivedCompressed = counter(compression, [("direction", "received"), ("form", "compressed")])
        receivedUncompressed = counter(compression, [("direction", "received"), ("form", "uncompressed")])
        sentUncompressed = counter(compression, [("direction", "sent"), ("form", "uncompressed")])
        sentCompressed = counter(compression, [("direction", "sent"), ("form", "compressed")])
        rateLimitedDropped = counter("wsgate_rate_limited_total", [("action", "drop")])
        rateLimitedClosed = counter("wsgate_rate_limited_total", [("action", "close")])
    }

    /// Counts a closed session by its close code's label (see ``closeCodeLabel(_:)``).
    func closed(code: UInt16) {
        let label = Self.closeCodeLabel(code)
        let counter = closes.withLockedValue { all in
            if let existing = all[label] { return existing }
            let made = Counter(
                label: "wsgate_closes_total", dimensions: [("endpoint", endpoint), ("code", label)],
                factory: factory)
            all[label] = made
            return made
        }
        counter.increment()
    }

    /// The `code` label of `wsgate_closes_total`: the code itself for the codes RFC 6455 and IANA define
    /// (1000–1015), `3xxx` and `4xxx` for the registered and private application ranges, `other` for
    /// anything else. The peer picks the code, so the label set stays at 19 series per endpoint.
    static func closeCodeLabel(_ code: UInt16) -> String {
        switch code {
        case 1000...1015: return "\(code)"
        case 3000...3999: return "3xxx"
        case 4000...4999: return "4xxx"
        default: return "other"
        }
    }
}
