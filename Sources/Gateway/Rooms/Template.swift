/// A text template with `{placeholder}` fields, split once so that rendering per message is a join.
struct Template: Sendable {
    private enum Part: Sendable {
        case text(String)
        case field(String)
    }

    private let parts: [Part]

    init(_ text: String) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            if open > rest.startIndex { parts.append(.text(String(rest[..<open]))) }
            parts.append(.field(String(rest[rest.index(after: open)..<close])))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// True when the template has any field.
    var hasFields: Bool {
        parts.contains { if case .field = $0 { true } else { false } }
    }

    /// True when the template has the field `name`.
    func has(_ name: String) -> Bool {
        parts.contains { if case .field(name) = $0 { true } else { false } }
    }

    /// Fills the fields from `value` and leaves `marked` empty, returning the UTF-8 byte counts at
    /// which it stood (for a value filled in later, such as `{position}` by Redis).
    func render(marking marked: String, _ value: (String) -> String?) -> (text: String, marks: [Int]) {
        var result = ""
        var marks: [Int] = []
        for part in parts {
            switch part {
            case .text(let text): result += text
            case .field(marked): marks.append(result.utf8.count)
            case .field(let name): result += value(name) ?? "{\(name)}"
            }
        }
        return (result, marks)
    }

    /// Fills the fields from `value`; a field it returns nil for is kept as written.
    func render(_ value: (String) -> String?) -> String {
        var result = ""
        for part in parts {
            switch part {
            case .text(let text): result += text
            case .field(let name): result += value(name) ?? "{\(name)}"
            }
        }
        return result
    }
}
