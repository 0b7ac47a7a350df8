import WebSocketEngine
import Yams

/// `extensions:` — permessage-deflate and the extensions a custom build registered.
extension ConfigLoader {
    /// Merges an `extensions:` mapping into `extensions`: a named extension's keys apply over the
    /// settings it already has (from `defaults:`), `enabled: false` removes it.
    static func readExtensions(
        _ node: Node,
        _ path: String,
        into extensions: inout [ExtensionSetting],
        reader: inout NodeReader
    ) {
        if NodeReader.isNull(node) {
            extensions = []
            return
        }
        let known = ["permessage-deflate"] + reader.customExtensions.sorted()
        guard case .mapping(let mapping) = node else {
            reader.error(
                node, "\(path) must be a mapping of extension names to their settings",
                hint: "e.g. 'permessage-deflate: { compression_level: 6 }'")
            return
        }
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            let qualified = "\(path).\(name)"
            guard known.contains(name) else {
                let suggestion = closestMatch(to: name, in: known).map { "did you mean '\($0)'?" }
                reader.error(
                    keyNode,
                    "unknown extension '\(name)' in \(path)",
                    hint: suggestion
                        ?? "this build knows: \(known.joined(separator: ", ")); a custom build can register more"
                )
                continue
            }
            let index = extensions.firstIndex { $0.name == name }
            if name == "permessage-deflate" {
                var configuration =
                    index.flatMap { i -> PerMessageDeflateConfiguration? in
                        if case .permessageDeflate(let existing) = extensions[i] { return existing }
                        return nil
                    } ?? PerMessageDeflateConfiguration()
                guard let enabled = readDeflate(value, qualified, into: &configuration, reader: &reader) else {
                    continue
                }
                if let index { extensions.remove(at: index) }
                if enabled {
                    extensions.insert(
                        .permessageDeflate(configuration), at: min(index ?? extensions.count, extensions.count))
                }
            } else {
                var parameters: [String: String] = [:]
                if !NodeReader.isNull(value) {
                    guard case .mapping(let entries) = value else {
                        reader.error(value, "\(qualified) must be a mapping of parameters")
                        continue
                    }
                    for (parameterNode, parameterValue) in entries {
                        guard let key = parameterNode.string,
                            let text = reader.string(parameterValue, "\(qualified).\(parameterNode.string ?? "")")
                        else { continue }
                        parameters[key] = text
                    }
                }
                let setting = ExtensionSetting.custom(name: name, parameters: parameters)
                if let index { extensions[index] = setting } else { extensions.append(setting) }
            }
        }
    }

    /// Applies `permessage-deflate:` keys; returns whether it stays enabled, or nil on errors.
    static func readDeflate(
        _ node: Node,
        _ path: String,
        into configuration: inout PerMessageDeflateConfiguration,
        reader: inout NodeReader
    ) -> Bool? {
        if NodeReader.isNull(node) { return true }
        guard let entries = reader.mapping(node, path, known: deflateKeys) else { return nil }
        var enabled = true
        for (key, _, value) in entries {
            let name = "\(path).\(key)"
            switch key {
            case "enabled":
                if let v = reader.bool(value, name) { enabled = v }
            case "compression_level":
                if let v = reader.integer(value, name, range: 0...9) { configuration.compressionLevel = v }
            case "compress_min_size":
                if let v = reader.size(value, name) { configuration.compressMinSize = v }
            case "server_no_context_takeover":
                if let v = reader.bool(value, name) { configuration.serverNoContextTakeover = v }
            case "client_no_context_takeover":
                if let v = reader.bool(value, name) { configuration.clientNoContextTakeover = v }
            case "server_max_window_bits":
                if let v = reader.integer(value, name, range: 8...15) {
                    if v == 8 {
                        reader.warning(
                            value, "\(name): zlib cannot compress with an 8-bit window, so wsgate uses 9",
                            hint: "write 9")
                    }
                    configuration.serverMaxWindowBits = v
                }
            case "client_max_window_bits":
                if let v = reader.integer(value, name, range: 8...15) { configuration.clientMaxWindowBits = v }
            case "memory_level":
                if let v = reader.integer(value, name, range: 1...9) { configuration.memoryLevel = v }
            default:
                break
            }
        }
        return enabled
    }
}
