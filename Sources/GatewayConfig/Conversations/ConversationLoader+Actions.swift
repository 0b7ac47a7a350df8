import Foundation
import WebSocketEngine
import Yams

/// The actions of steps and the values they take.
extension ConversationLoader {
    static func action(
        _ key: String, _ value: Node?, at anchor: Node, _ path: String, reader: inout NodeReader
    ) -> Step.Action? {
        let value = value.flatMap { NodeReader.isNull($0) ? nil : $0 }
        switch key {
        case "send":
            guard let value else { return missing(anchor, path, reader: &reader, example: "send: hello") }
            return payload(value, path, reader: &reader).map(Step.Action.send)
        case "expect":
            guard let value else { return missing(anchor, path, reader: &reader, example: "expect: hello") }
            return expectation(value, path, reader: &reader).map(Step.Action.expect)
        case "expect_close":
            guard let value else { return .expectClose(code: nil, reason: nil) }
            return closeSpec(value, path, reader: &reader).map { .expectClose(code: $0.code, reason: $0.reason) }
        case "expect_silence":
            guard let value else { return missing(anchor, path, reader: &reader, example: "expect_silence: 200ms") }
            return reader.positiveDuration(value, path).map(Step.Action.expectSilence)
        case "expect_status":
            guard let value else { return missing(anchor, path, reader: &reader, example: "expect_status: 403") }
            guard let status = reader.integer(value, path, range: 100...599) else { return nil }
            if status == 101 {
                reader.error(
                    value, "101 is an accepted handshake, not a refusal", hint: "write 'connect' to expect success")
                return nil
            }
            return .expectStatus(status)
        case "connect":
            guard let value else { return .connect(expectHeaders: []) }
            guard let entries = reader.mapping(value, path, known: ConversationReference.connect.map(\.name)) else {
                return nil
            }
            var headers: [Conversation.Header] = []
            for (_, _, map) in entries {
                headers = stringMap(map, "\(path).expect_headers", reader: &reader).map {
                    Conversation.Header($0.0.lowercased(), $0.1)
                }
            }
            return .connect(expectHeaders: headers)
        case "close":
            guard let value else { return .close(code: 1000, reason: "") }
            guard let spec = closeSpec(value, path, reader: &reader) else { return nil }
            let code = spec.code ?? 1000
            guard CloseReason.Code(UInt16(code)).isValidOnTheWire else {
                reader.error(
                    value, "close code \(code) may not be sent", hint: "use 1000–1003, 1007–1014 or 3000–4999")
                return nil
            }
            return .close(code: code, reason: spec.reason ?? "")
        case "disconnect":
            if let value { reader.error(value, "\(path) takes no value", hint: "write '- disconnect'") }
            return .disconnect
        case "wait":
            guard let value else { return missing(anchor, path, reader: &reader, example: "wait: 100ms") }
            return reader.positiveDuration(value, path).map(Step.Action.wait)
        default:
            return nil
        }
    }

    static func missing(_ anchor: Node, _ path: String, reader: inout NodeReader, example: String) -> Step.Action? {
        reader.error(anchor, "\(path) needs a value", hint: "e.g. '\(example)'")
        return nil
    }

    /// Reads `exactlyOne` of a mapping's keys (used by `send:` and `expect:`).
    static func single(
        _ node: Node, _ path: String, keys: [ConversationReference.Key], among choices: [String],
        reader: inout NodeReader
    ) -> (entries: [String: Node], chosen: (key: String, text: String))? {
        guard let entries = reader.mapping(node, path, known: keys.map(\.name)) else { return nil }
        let chosen = entries.filter { choices.contains($0.key) }
        guard chosen.count == 1, let (key, _, value) = chosen.first else {
            reader.error(
                node, "\(path) needs exactly one of \(choices.joined(separator: ", "))",
                hint: chosen.isEmpty ? "e.g. '{ text: hello }'" : "write one per step")
            return nil
        }
        guard let text = reader.string(value, "\(path).\(key)") else { return nil }
        return (Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }), (key, text))
    }

    static func payload(_ node: Node, _ path: String, reader: inout NodeReader) -> Step.Payload? {
        if case .scalar = node { return reader.string(node, path).map(Step.Payload.text) }
        let keys = ConversationReference.payload
        guard let (entries, chosen) = single(node, path, keys: keys, among: keys.map(\.name), reader: &reader) else {
            return nil
        }
        if chosen.key == "text" { return .text(chosen.text) }
        return bytes(chosen, entries[chosen.key] ?? node, path, reader: &reader).map(Step.Payload.binary)
    }

    static func expectation(_ node: Node, _ path: String, reader: inout NodeReader) -> Step.Expectation? {
        if case .scalar = node { return reader.string(node, path).map(Step.Expectation.text) }
        guard
            let (entries, chosen) = single(
                node, path, keys: ConversationReference.expectation, among: ["text", "regex", "hex", "base64"],
                reader: &reader)
        else { return nil }
        var isText = false
        if let typeNode = entries["type"], let type = reader.string(typeNode, "\(path).type") {
            guard ["text", "binary"].contains(type) else {
                reader.error(typeNode, "\(path).type must be text or binary, not '\(type)'")
                return nil
            }
            if chosen.key == "text" || chosen.key == "regex" {
                reader.error(typeNode, "\(path).type applies to hex and base64", hint: "remove it")
                return nil
            }
            isText = type == "text"
        }
        let valueNode = entries[chosen.key] ?? node
        switch chosen.key {
        case "text":
            return .text(chosen.text)
        case "regex":
            do {
                _ = try Regex(chosen.text)
            } catch {
                reader.error(valueNode, "\(path).regex is not a valid regular expression: \(error)")
                return nil
            }
            return .regex(chosen.text)
        default:
            return bytes(chosen, valueNode, path, reader: &reader).map { .bytes($0, isText: isText) }
        }
    }

    static func bytes(
        _ chosen: (key: String, text: String), _ node: Node, _ path: String, reader: inout NodeReader
    ) -> [UInt8]? {
        if chosen.key == "base64" {
            guard let data = Data(base64Encoded: chosen.text) else {
                reader.error(node, "\(path).base64 is not valid base64", hint: "e.g. 'AAEC/w=='")
                return nil
            }
            return Array(data)
        }
        guard let bytes = parseHex(chosen.text) else {
            reader.error(
                node, "\(path).hex must be pairs of hex digits", hint: "e.g. '00 01 ff' or '0001ff'")
            return nil
        }
        return bytes
    }

    /// `00 01 ff`, `0001FF`: pairs of hex digits, whitespace between pairs allowed.
    static func parseHex(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for word in text.split(whereSeparator: \.isWhitespace) {
            guard word.count.isMultiple(of: 2) else { return nil }
            var index = word.startIndex
            while index < word.endIndex {
                let next = word.index(index, offsetBy: 2)
                guard let byte = UInt8(word[index..<next], radix: 16) else { return nil }
                bytes.append(byte)
                index = next
            }
        }
        return bytes
    }

    static func closeSpec(_ node: Node, _ path: String, reader: inout NodeReader) -> (code: Int?, reason: String?)? {
        if case .scalar = node {
            return reader.integer(node, path, range: 1000...4999).map { ($0, nil) }
        }
        guard let entries = reader.mapping(node, path, known: ConversationReference.close.map(\.name)) else {
            return nil
        }
        var code: Int?
        var reason: String?
        for (key, _, value) in entries {
            if key == "code" {
                guard let value = reader.integer(value, "\(path).code", range: 1000...4999) else { return nil }
                code = value
            } else {
                guard let value = reader.string(value, "\(path).reason") else { return nil }
                reason = value
            }
        }
        return (code, reason)
    }

    static func stringMap(_ node: Node, _ path: String, reader: inout NodeReader) -> [(String, String)] {
        guard case .mapping(let mapping) = node else {
            reader.error(
                node, "\(path) must be a mapping of names to values", hint: "e.g. { Origin: https://example.com }")
            return []
        }
        var pairs: [(String, String)] = []
        for (keyNode, valueNode) in mapping {
            guard let name = keyNode.string, let value = reader.string(valueNode, "\(path).\(keyNode.string ?? "")")
            else { continue }
            pairs.append((name, value))
        }
        return pairs
    }
}
