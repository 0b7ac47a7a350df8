import Foundation

/// A route path such as `/echo` or `/chat/{room}`: literal segments and whole-segment parameters.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    /// Why a path template is malformed.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong and what to write instead.
        public let description: String
    }

    let segments: [Segment]
    /// The template as written.
    public let description: String

    /// Parses a template: it starts with `/`; a `{name}` segment (letters, digits, `_`) matches any one
    /// non-empty path segment and hands its percent-decoded value to the handler under `name`.
    public init(_ template: String) throws(ParseError) {
        guard template.hasPrefix("/") else {
            throw ParseError(description: "path '\(template)' must start with '/', e.g. '/\(template)'")
        }
        var segments: [Segment] = []
        var names: Set<String> = []
        for part in template.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if part.contains("?") || part.contains("#") {
                throw ParseError(description: "path '\(template)' must not contain '?' or '#'")
            }
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count >= 3 {
                let name = String(part.dropFirst().dropLast())
                guard let first = name.first, first.isLetter || first == "_",
                    name.allSatisfy({ ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII })
                else {
                    throw ParseError(
                        description:
                            "parameter '{\(name)}' in '\(template)' must be a name of letters, digits and '_', e.g. '{room}'"
                    )
                }
                guard names.insert(name).inserted else {
                    throw ParseError(description: "parameter '{\(name)}' appears twice in '\(template)'")
                }
                segments.append(.parameter(name))
            } else if part.contains("{") || part.contains("}") {
                throw ParseError(
                    description: "segment '\(part)' of '\(template)' must be a whole '{name}' parameter or plain text"
                )
            } else {
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.description = template
    }

    /// The names of the `{name}` parameters, in order.
    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    /// Whether the template has no parameters.
    public var isLiteral: Bool {
        segments.allSatisfy { if case .literal = $0 { true } else { false } }
    }

    /// The parameter values when `path` (without query) matches, else nil.
    public func match(_ path: String) -> [String: String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard literal == part else { return nil }
            case .parameter(let name):
                guard !part.isEmpty, let decoded = String(part).removingPercentEncoding, !decoded.isEmpty else {
                    return nil
                }
                values[name] = decoded
            }
        }
        return values
    }
}
