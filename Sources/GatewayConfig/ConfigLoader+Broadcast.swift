import WebSocketEngine
import Yams

/// The keys of `type: broadcast` and the placeholders its templates may use.
extension ConfigLoader {
    static func readBroadcastKey(
        _ key: String,
        _ value: Node,
        _ name: String,
        into settings: inout BroadcastSettings,
        reader: inout NodeReader
    ) {
        switch key {
        case "room":
            if let v = reader.string(value, name) { settings.room = v }
        case "name":
            if let v = reader.string(value, name) { settings.name = v }
        case "welcome":
            if let v = reader.optionalString(value, name) { settings.welcome = v }
        case "format":
            if let v = reader.string(value, name) { settings.format = v }
        case "reset":
            if let v = reader.optionalString(value, name) { settings.reset = v }
        case "unavailable":
            if let v = reader.optionalString(value, name) { settings.unavailable = v }
        case "include_sender":
            if let v = reader.bool(value, name) { settings.includeSender = v }
        case "history":
            if let v = reader.integer(value, name, range: 0...10_000) { settings.history = v }
        case "history_ttl":
            if let v = reader.duration(value, name) { settings.historyTTL = v }
        case "max_queue":
            if let v = reader.size(value, name) {
                if v < 1024 {
                    reader.error(
                        value, "\(name) of \(v) bytes cannot hold a message", hint: "use at least 1KiB, e.g. 1MiB")
                } else {
                    settings.maxQueue = v
                }
            }
        case "slow_client":
            guard let text = reader.string(value, name) else { return }
            if let policy = BroadcastSettings.SlowClient(rawValue: text) {
                settings.slowClient = policy
            } else {
                reader.error(
                    value, "\(name) must be close or drop, not '\(text)'",
                    hint: "close: end the slow member's session with 1008; drop: skip messages for it")
            }
        case "broker":
            guard let text = reader.string(value, name) else { return }
            if let broker = BroadcastSettings.RoomBroker(rawValue: text) {
                settings.broker = broker
            } else {
                reader.error(
                    value, "\(name) must be redis or local, not '\(text)'",
                    hint: "redis: share the rooms through the top-level broker; local: keep them in this process")
            }
        case "announce":
            guard let entries = reader.mapping(value, name, known: ConfigReference.announce.map(\.name)) else { return }
            for (which, _, text) in entries {
                guard let v = reader.optionalString(text, "\(name).\(which)") else { continue }
                if which == "join" { settings.joinNotice = v } else { settings.leaveNotice = v }
            }
        default:
            break
        }
    }

    /// Checks the placeholders of a broadcast endpoint's templates against what each can use.
    static func checkBroadcast(
        _ settings: BroadcastSettings,
        template: PathTemplate?,
        entries: [(key: String, keyNode: Node, value: Node)],
        _ path: String,
        claims: Bool = false,
        reader: inout NodeReader
    ) {
        let parameters = Set(template?.parameterNames ?? [])
        func check(_ key: String, _ text: String?, allowed: Set<String>, allowQuery: Bool = false) {
            guard let text else { return }
            let node = entries.first { $0.key == key }?.value ?? entries.first { $0.key == "path" }?.value
            for placeholder in placeholders(in: text) {
                if allowed.contains(placeholder) { continue }
                if allowQuery, placeholder.hasPrefix("query."), placeholder.count > 6 { continue }
                if claims, placeholder.hasPrefix("claims."), placeholder.count > 7 { continue }
                let options =
                    allowed.sorted().map { "{\($0)}" } + (allowQuery ? ["{query.NAME}"] : [])
                    + (claims ? ["{claims.NAME}"] : [])
                if !claims && placeholder.hasPrefix("claims."), let node {
                    reader.error(
                        node, "\(path).\(key) uses {\(placeholder)}, but the endpoint checks no token",
                        hint: "add 'auth: { jwt: … }' to the endpoint (or to defaults:) so it has claims")
                    continue
                }
                if let node {
                    reader.error(
                        node, "\(path).\(key) uses {\(placeholder)}, which it cannot fill",
                        hint: "it can use \(options.joined(separator: ", "))")
                }
            }
        }
        check("room", settings.room, allowed: parameters)
        check("name", settings.name, allowed: parameters.union(["n"]), allowQuery: true)
        check("welcome", settings.welcome, allowed: ["name", "room", "position"])
        check("format", settings.format, allowed: ["name", "room", "message", "position"])
        check("reset", settings.reset, allowed: ["name", "room", "position"])
        check("unavailable", settings.unavailable, allowed: ["name", "room", "message"])
        check("announce", settings.joinNotice, allowed: ["name", "room"])
        check("announce", settings.leaveNotice, allowed: ["name", "room"])
    }

    /// The `{…}` placeholders of a template.
    static func placeholders(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            found.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return found
    }
}
