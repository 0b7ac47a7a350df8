import Yams

/// Reads typed values out of a YAML node tree, collecting a located diagnostic for every problem
/// instead of stopping at the first.
struct NodeReader {
    let file: String
    /// Extension names a custom build registered, besides permessage-deflate.
    let customExtensions: Set<String>
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String, customExtensions: Set<String> = []) {
        self.file = file
        self.customExtensions = customExtensions
    }

    func location(_ node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    mutating func error(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.error, location(node), message, hint: hint))
    }

    mutating func warning(_ node: Node, _ message: String, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.warning, location(node), message, hint: hint))
    }

    mutating func error(at location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(ConfigDiagnostic(.error, location, message, hint: hint))
    }

    /// Whether a node is YAML null (`~`, `null` or nothing).
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The entries of a mapping, reporting keys not in `known` (with a suggestion) and keys that
    /// `planned` says this version does not support yet.
    mutating func mapping(
        _ node: Node,
        _ path: String,
        known: [String],
        planned: [String: String] = [:]
    ) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(
                node, "\(path) must be a mapping of keys to values",
                hint: "write it as 'key: value' lines indented under it")
            return nil
        }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, "keys of \(path) must be plain words")
                continue
            }
            let key = scalar.string
            let qualified = path.isEmpty ? key : "\(path).\(key)"
            if !seen.insert(key).inserted {
                error(keyNode, "\(qualified) is set twice", hint: "keep one of them")
                continue
            }
            if let note = planned[key] {
                error(keyNode, "\(qualified) is not supported by this version of wsgate yet", hint: note)
                continue
            }
            guard known.contains(key) else {
                let suggestion = closestMatch(to: key, in: known).map { "did you mean '\($0)'?" }
                error(
                    keyNode,
                    "unknown key '\(key)' in \(path.isEmpty ? "the top level" : path)",
                    hint: suggestion ?? "the keys here are: \(known.joined(separator: ", "))"
                )
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(
                node, "\(path) must be a text value",
                hint: "write it on the same line, e.g. \(path.split(separator: ".").last ?? ""): \"text\"")
            return nil
        }
        return scalar.string
    }

    mutating func optionalString(_ node: Node, _ path: String) -> String?? {
        if Self.isNull(node) { return .some(nil) }
        guard let value = string(node, path) else { return nil }
        return .some(value)
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        if case .scalar(let scalar) = node {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        error(node, "\(path) must be true or false")
        return nil
    }

    mutating func integer(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            error(node, "\(path) must be a whole number")
            return nil
        }
        guard range.contains(value) else {
            error(node, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    mutating func stringList(_ node: Node, _ path: String) -> [String]? {
        guard case .sequence(let sequence) = node else {
            error(node, "\(path) must be a list", hint: "write it as [\"a\", \"b\"] or as '- a' lines")
            return nil
        }
        var values: [String] = []
        for item in sequence {
            guard let value = string(item, "\(path) item") else { return nil }
            values.append(value)
        }
        return values
    }

    /// `250ms`, `15s`, `2m`, `1h`, or `0`.
    mutating func duration(_ node: Node, _ path: String) -> Duration? {
        guard case .scalar(let scalar) = node, let value = Self.parseDuration(scalar.string) else {
            error(
                node, "\(path) must be a duration",
                hint: "write a number with a unit: 250ms, 15s, 2m, 1h, or 0 to disable")
            return nil
        }
        return value
    }

    static func parseDuration(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "": return number == 0 ? .zero : nil
        case "ms": return .milliseconds(number)
        case "s": return .seconds(number)
        case "m": return .seconds(number * 60)
        case "h": return .seconds(number * 3600)
        default: return nil
        }
    }

    /// Bytes (`512`), `64KiB`, `1MiB`, `1GiB`, or `unlimited`.
    mutating func size(_ node: Node, _ path: String) -> Int? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(path) must be a size")
            return nil
        }
        if let value = Self.parseSize(scalar.string) { return value }
        let text = scalar.string
        let hint: String
        if text.hasSuffix("KB") || text.hasSuffix("MB") || text.hasSuffix("GB") || text.hasSuffix("kB") {
            hint =
                "sizes use binary units: write \(text.dropLast(2))\(text.dropLast().last.map { String($0).uppercased() } ?? "")iB"
        } else {
            hint = "write bytes (512), 64KiB, 1MiB, 1GiB, or unlimited"
        }
        error(node, "\(path) must be a size, not '\(text)'", hint: hint)
        return nil
    }

    static func parseSize(_ text: String) -> Int? {
        if text == "unlimited" { return Int.max }
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let multiplier: Int
        switch text.dropFirst(digits.count) {
        case "", "B": multiplier = 1
        case "KiB": multiplier = 1 << 10
        case "MiB": multiplier = 1 << 20
        case "GiB": multiplier = 1 << 30
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : value
    }
}
