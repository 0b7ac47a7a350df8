import WebSocketEngine
import Yams

/// Limits at the door (`server.max_connections_per_ip`, `server.new_connections`,
/// `server.new_connections_per_ip`) and the message rate of a connection (`rate:`).
extension ConfigLoader {
    static let rateHint = "write a number per unit: 20/s, 1200/m, 100/h, or unlimited"
    static let byteRateHint = "write a size per unit: 64KiB/s, 1MiB/s, 100MiB/m, or unlimited"

    /// `max_connections_per_ip`: a count or `unlimited` (Int.max).
    static func readCountOrUnlimited(_ node: Node, _ path: String, reader: inout NodeReader) -> Int? {
        if case .scalar(let scalar) = node, scalar.string == "unlimited" { return .max }
        return reader.integer(node, path, range: 1...10_000_000)
    }

    /// `new_connections` and `new_connections_per_ip`: `unlimited` (or null), a rate such as `10/s`
    /// (the burst is one second's worth), or `{ rate: 10/s, burst: 20 }`. `.some(nil)`: unlimited; nil:
    /// an error was reported.
    static func readConnectionRate(_ node: Node, _ path: String, reader: inout NodeReader) -> RateLimit?? {
        if NodeReader.isNull(node) { return .some(nil) }
        if case .scalar = node {
            guard let text = reader.string(node, path) else { return nil }
            if text == "unlimited" { return .some(nil) }
            guard let perSecond = parseRate(text, unit: { Double($0) }) else {
                reader.error(node, "\(path) must be a rate, not '\(text)'", hint: rateHint)
                return nil
            }
            return .some(RateLimit(perSecond: perSecond))
        }
        guard let entries = reader.mapping(node, path, known: ConfigReference.connectionRate.map(\.name)) else {
            return nil
        }
        var perSecond: Double?
        var burst: Int?
        var failed = false
        for (key, _, value) in entries {
            switch key {
            case "rate":
                perSecond = reader.rate(value, "\(path).rate")
                failed = failed || perSecond == nil
            default:
                burst = reader.integer(value, "\(path).burst", range: 1...10_000_000)
                failed = failed || burst == nil
            }
        }
        if failed { return nil }
        guard let perSecond else {
            reader.error(node, "\(path) has no 'rate'", hint: "add e.g. 'rate: 10/s'")
            return nil
        }
        return .some(RateLimit(perSecond: perSecond, burst: burst.map(Double.init)))
    }

    /// `rate:` of `defaults:` or an endpoint: its keys apply over `rate` (what `defaults:` set);
    /// `unlimited` or null turns the limit off.
    static func readMessageRate(
        _ node: Node, _ path: String, into rate: inout MessageRateSettings, reader: inout NodeReader
    ) {
        if NodeReader.isNull(node) || (node.scalar?.string == "unlimited") {
            rate = MessageRateSettings()
            return
        }
        guard
            let entries = reader.mapping(
                node, path, known: ConfigReference.messageRate.map(\.name))
        else { return }
        var next = rate
        for (key, _, value) in entries {
            let name = "\(path).\(key)"
            let unlimited = value.scalar?.string == "unlimited"
            switch key {
            case "messages":
                if unlimited {
                    next.messagesPerSecond = nil
                    if !entries.contains(where: { $0.key == "burst" }) { next.burst = nil }
                } else if let v = reader.rate(value, name) {
                    next.messagesPerSecond = v
                }
            case "burst":
                if let v = reader.integer(value, name, range: 1...1_000_000_000) { next.burst = v }
            case "bytes":
                if unlimited {
                    next.bytesPerSecond = nil
                    if !entries.contains(where: { $0.key == "bytes_burst" }) { next.bytesBurst = nil }
                } else if let v = reader.byteRate(value, name) {
                    next.bytesPerSecond = v
                }
            case "bytes_burst":
                if let v = reader.size(value, name) {
                    if v < 1 {
                        reader.error(value, "\(name) must be at least 1 byte", hint: "e.g. 64KiB")
                    } else {
                        next.bytesBurst = v
                    }
                }
            default:
                if let text = reader.string(value, name) {
                    if let action = MessageRateLimit.Action(rawValue: text) {
                        next.action = action
                    } else {
                        let names = MessageRateLimit.Action.allCases.map(\.rawValue)
                        let suggestion = closestMatch(to: text, in: names).map { "did you mean '\($0)'? " } ?? ""
                        reader.error(
                            value, "\(name) '\(text)' is not an action",
                            hint: "\(suggestion)use drop (discard the message) or close (1008)")
                    }
                }
            }
        }
        if next.burst != nil && next.messagesPerSecond == nil {
            reader.error(node, "\(path).burst is set but messages is not", hint: "add e.g. 'messages: 20/s'")
        }
        if next.bytesBurst != nil && next.bytesPerSecond == nil {
            reader.error(node, "\(path).bytes_burst is set but bytes is not", hint: "add e.g. 'bytes: 1MiB/s'")
        }
        rate = next
    }

    /// `20/s`, `1200/m`, `100/h`, `0.5/s`, or a bare number (per second), with `amount` parsing the
    /// part before the slash; nil when malformed, zero or negative.
    static func parseRate(_ text: String, unit amount: (Substring) -> Double?) -> Double? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let first = parts.first, !first.isEmpty,
            first.first.map({ $0.isASCII && $0.isNumber }) == true,
            let value = amount(first), value.isFinite, value > 0
        else { return nil }
        guard parts.count == 2 else { return value }
        switch parts[1] {
        case "s": return value
        case "m": return value / 60
        case "h": return value / 3600
        default: return nil
        }
    }
}

extension NodeReader {
    /// A rate of things: `20/s`, `1200/m`, `100/h`, or a number (per second). Above zero.
    mutating func rate(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(path) must be a rate", hint: ConfigLoader.rateHint)
            return nil
        }
        guard let text = text(scalar, node) else { return nil }
        if let value = ConfigLoader.parseRate(text, unit: { Double($0) }) { return value }
        error(node, "\(path) must be a rate above zero, not '\(text)'", hint: ConfigLoader.rateHint)
        return nil
    }

    /// A rate of bytes: `1MiB/s`, `64KiB/s`, `100MiB/m`. Above zero.
    mutating func byteRate(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(path) must be a byte rate", hint: ConfigLoader.byteRateHint)
            return nil
        }
        guard let text = text(scalar, node) else { return nil }
        if let value = ConfigLoader.parseRate(text, unit: { NodeReader.parseSize(String($0)).map(Double.init) }) {
            return value
        }
        error(node, "\(path) must be a byte rate above zero, not '\(text)'", hint: ConfigLoader.byteRateHint)
        return nil
    }
}
