import RedisClient
import Yams

/// `broker:` — the Redis that broadcast rooms share across instances.
extension ConfigLoader {
    /// The broker section, or nil for `broker: null` or when it is invalid (errors reported).
    static func readBroker(_ node: Node, reader: inout NodeReader) -> BrokerSettings? {
        if NodeReader.isNull(node) { return nil }
        guard let entries = reader.mapping(node, "broker", known: ConfigReference.broker.map(\.name))
        else { return nil }
        guard let urlEntry = entries.first(where: { $0.key == "url" }) else {
            reader.error(
                node, "broker has no 'url'",
                hint: "add 'url: ${REDIS_URL}' (redis://[[user]:password@]host[:port][/db], rediss:// for TLS)")
            return nil
        }
        guard let url = reader.string(urlEntry.value, "broker.url") else { return nil }
        do {
            _ = try RedisConfiguration(url: url)
        } catch {
            reader.error(urlEntry.value, "broker.url: \(error)")
            return nil
        }
        var broker = BrokerSettings(url: url)
        for (key, _, value) in entries {
            let name = "broker.\(key)"
            switch key {
            case "prefix":
                guard let text = reader.string(value, name) else { continue }
                if text.isEmpty || text.contains(where: { $0 == "{" || $0 == "}" || $0.isWhitespace }) {
                    reader.error(
                        value, "\(name) '\(text)' cannot start Redis keys",
                        hint: "use letters, digits, ':', '-' or '_', e.g. wsgate or myapp:ws")
                } else {
                    broker.prefix = text
                }
            case "on_unavailable":
                guard let text = reader.string(value, name) else { continue }
                if let choice = BrokerSettings.OnUnavailable(rawValue: text) {
                    broker.onUnavailable = choice
                } else {
                    reader.error(
                        value, "\(name) must be reject or local, not '\(text)'",
                        hint: "reject: drop messages while Redis is down; local: deliver them on this instance only")
                }
            case "stream_size":
                if let size = reader.integer(value, name, range: 1...1_000_000) { broker.streamSize = size }
            case "stream_ttl":
                guard let ttl = reader.duration(value, name) else { continue }
                if ttl < .seconds(1) {
                    reader.error(value, "\(name) must be at least 1s", hint: "e.g. 24h")
                } else {
                    broker.streamTTL = ttl
                }
            case "command_timeout":
                guard let timeout = reader.duration(value, name) else { continue }
                if timeout < .milliseconds(10) {
                    reader.error(value, "\(name) must be at least 10ms", hint: "e.g. 5s")
                } else {
                    broker.commandTimeout = timeout
                }
            default:
                break
            }
        }
        return broker
    }

    /// A broadcast endpoint that asks for `broker: redis` needs a top-level broker, and so does one
    /// whose `format` or `welcome` has `{position}` (Redis gives messages their positions).
    static func checkBroker(_ configuration: GatewayConfiguration, at node: Node?, reader: inout NodeReader) {
        for (index, endpoint) in configuration.endpoints.enumerated() {
            guard case .broadcast(let settings) = endpoint.kind,
                configuration.broker == nil ? node == nil : settings.broker == .local
            else { continue }
            let keys = [("format", settings.format), ("welcome", settings.welcome ?? "")].filter {
                placeholders(in: $0.1).contains("position")
            }
            guard let key = keys.first?.0 else { continue }
            reader.error(
                at: endpoint.location,
                "endpoints[\(index)] (\(endpoint.path)) uses {position} in its \(key), but its rooms do not go through a broker",
                hint: configuration.broker == nil
                    ? "add 'broker: { url: ${REDIS_URL} }' at the top level, or remove {position}"
                    : "remove 'broker: local', or remove {position}")
        }
        guard configuration.broker == nil, node == nil else { return }
        for (index, endpoint) in configuration.endpoints.enumerated() {
            guard case .broadcast(let settings) = endpoint.kind, settings.broker == .redis else { continue }
            reader.error(
                at: endpoint.location,
                "endpoints[\(index)] (\(endpoint.path)) has broker: redis, but the file has no top-level broker",
                hint: "add 'broker: { url: ${REDIS_URL} }' at the top level, or remove broker: redis")
        }
    }
}
