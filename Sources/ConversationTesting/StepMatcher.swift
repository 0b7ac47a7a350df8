import GatewayConfig
import NIOCore
import WebSocketEngine

/// Whether what arrived is what a step expects, and how both read in a report. Pure: no sockets.
public enum StepMatcher {
    /// Whether `frame` is the message `expectation` describes.
    public static func matches(_ expectation: Step.Expectation, _ frame: Frame) -> Bool {
        switch (expectation, frame) {
        case (.text(let text), .text(let buffer)):
            return String(buffer: buffer) == text
        case (.regex(let pattern), .text(let buffer)):
            guard let regex = try? Regex(pattern) else { return false }
            return String(buffer: buffer).wholeMatch(of: regex) != nil
        case (.bytes(let bytes, isText: true), .text(let buffer)),
            (.bytes(let bytes, isText: false), .binary(let buffer)):
            return buffer.readableBytesView.elementsEqual(bytes)
        default:
            return false
        }
    }

    /// Whether `frame` is a close frame with `code` and `reason` (each checked only when given).
    public static func matchesClose(code: Int?, reason: String?, _ frame: Frame) -> Bool {
        guard case .close(let closeReason) = frame else { return false }
        if let code, Int(closeReason?.code.rawValue ?? 1005) != code { return false }
        if let reason, (closeReason?.message ?? "") != reason { return false }
        return true
    }

    /// An expectation as the report's `expected:` line shows it.
    public static func describe(_ expectation: Step.Expectation) -> String {
        switch expectation {
        case .text(let text): return "text \(quote(text))"
        case .regex(let pattern): return "text matching /\(pattern)/"
        case .bytes(let bytes, let isText): return "\(isText ? "text" : "binary") \(hex(bytes[...]))"
        }
    }

    /// A close expectation as the report shows it.
    public static func describeClose(code: Int?, reason: String?) -> String {
        var text = "close"
        if let code { text += " \(code)" }
        if let reason { text += " \(quote(reason))" }
        return text
    }

    /// A frame as the report's `actual:` line shows it; long payloads are cut.
    public static func describe(_ frame: Frame) -> String {
        switch frame {
        case .text(let buffer):
            guard UTF8Validator.isValid(buffer.readableBytesView) else {
                return "text (not UTF-8) \(hex(buffer.readableBytesView))"
            }
            return "text \(quote(String(buffer: buffer)))"
        case .binary(let buffer):
            return "binary \(hex(buffer.readableBytesView))"
        case .close(let reason):
            guard let reason else { return "close without a code" }
            return reason.message.isEmpty ? "close \(reason.code)" : "close \(reason.code) \(quote(reason.message))"
        case .ping(let buffer): return "ping \(hex(buffer.readableBytesView))"
        case .pong(let buffer): return "pong \(hex(buffer.readableBytesView))"
        }
    }

    /// A length that reports cut text and bytes at.
    static let shownLimit = 200

    static func quote(_ text: String) -> String {
        var shown = ""
        for character in text.prefix(shownLimit) {
            switch character {
            case "\"": shown += "\\\""
            case "\\": shown += "\\\\"
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            default: shown.append(character)
            }
        }
        let cut = text.count > shownLimit ? "… (\(text.utf8.count) bytes)" : ""
        return "\"\(shown)\"\(cut)"
    }

    static func hex<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let digits = "0123456789abcdef".map { $0 }
        let shown = bytes.prefix(shownLimit / 3).map { "\(digits[Int($0 >> 4)])\(digits[Int($0 & 0xF)])" }
        let text = shown.isEmpty ? "(empty)" : shown.joined(separator: " ")
        return bytes.count > shownLimit / 3 ? "\(text) … (\(bytes.count) bytes)" : text
    }
}
