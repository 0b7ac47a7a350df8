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
