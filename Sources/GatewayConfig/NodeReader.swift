import Yams

/// Reads typed values out of a YAML node tree, collecting a located diagnostic for every problem
/// instead of stopping at the first.
struct NodeReader {
    let file: String
    /// Extension names a custom build registered, besides permessage-deflate.
    let customExtensions: Set<String>
    /// What `${NAME}` in a value reads.
    let environment: [String: String]
    /// The folder relative file paths in values (`public_key`) resolve against: the config file's.
    var baseDirectory = "."
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(file: String, customExtensions: Set<String> = [], environment: [String: String] = [:]) {
        self.file = file
        self.customExtensions = customExtensions
        self.environment = environment
    }

    /// The text of a scalar with `${NAME}` and `${NAME:-fallback}` replaced from the environment; nil (and
    /// an error) when a variable is unset without a fallback or a reference is malformed.
    mutating func text(_ scalar: Node.Scalar, _ node: Node) -> String? {
        let raw = scalar.string
        guard raw.contains("${") else { return raw }
        var result = ""
        var rest = Substring(raw)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                error(node, "'${' without a closing '}' in '\(raw)'", hint: "write ${NAME} or ${NAME:-fallback}")
                return nil
            }
            let reference = rest[start.upperBound..<end]
            let name: Substring
            let fallback: Substring?
            if let separator = reference.range(of: ":-") {
                name = reference[..<separator.lowerBound]
                fallback = reference[separator.upperBound...]
            } else {
                name = reference
                fallback = nil
            }
            guard let first = name.first, first == "_" || (first.isASCII && first.isLetter),
                name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) })
            else {
                error(node, "'${\(reference)}' is not a variable reference", hint: "write ${NAME} or ${NAME:-fallback}")
                return nil
            }
            if let value = environment[String(name)], !value.isEmpty {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                error(
                    node,
                    "environment variable \(name) is not set",
                    hint: "set it, or give a fallback: ${\(name):-value}"
                )
                return nil
            }
            rest = rest[rest.index(after: end)...]
        }
        result += rest
        return result
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

    /// The entries of a mapping, reporting keys not in `known` (with a suggestion).
    mutating func mapping(
        _ node: Node,
        _ path: String,
        known: [String]
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
        return text(scalar, node)
    }

    mutating func optionalString(_ node: Node, _ path: String) -> String?? {
        if Self.isNull(node) { return .some(nil) }
        guard let value = string(node, path) else { return nil }
        return .some(value)
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        if case .scalar(let scalar) = node {
            guard let value = text(scalar, node) else { return nil }
            switch value {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        error(node, "\(path) must be true or false")
        return nil
    }

    mutating func integer(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(path) must be a whole number")
            return nil
        }
        guard let text = text(scalar, node) else { return nil }
        guard let value = Int(text) else {
            error(node, "\(path) must be a whole number, not '\(text)'")
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
        guard case .scalar(let scalar) = node, let text = text(scalar, node) else {
            if case .scalar = node { return nil }
            error(node, "\(path) must be a duration")
            return nil
        }
        guard let value = Self.parseDuration(text) else {
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
        case "m":
            let (seconds, overflow) = number.multipliedReportingOverflow(by: 60)
            return overflow ? nil : .seconds(seconds)
        case "h":
            let (seconds, overflow) = number.multipliedReportingOverflow(by: 3600)
            return overflow ? nil : .seconds(seconds)
        default: return nil
        }
    }

    /// Bytes (`512`), `64KiB`, `1MiB`, `1GiB`, or `unlimited`.
    mutating func size(_ node: Node, _ path: String) -> Int? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(path) must be a size")
            return nil
        }
        guard let text = text(scalar, node) else { return nil }
        if let value = Self.parseSize(text) { return value }
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
