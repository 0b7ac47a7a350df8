import Foundation

/// One claim of a verified token: JSON as it was signed.
indirect enum ClaimValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ClaimValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ClaimValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// The text a template shows: a string as it is, a whole number without a fraction, anything else
    /// as JSON.
    var text: String {
        switch self {
        case .string(let value): return value
        case .number(let value): return Self.numberText(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return ""
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(self)).flatMap { String(bytes: $0, encoding: .utf8) } ?? ""
        }
    }

    /// The text of a string or a number (what becomes a `WSGATE_CLAIM_` variable); nil for the others.
    var scalarText: String? {
        switch self {
        case .string(let value): return value
        case .number(let value): return Self.numberText(value)
        default: return nil
        }
    }

    static func numberText(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// The claims of a verified token, handed to the session in ``Admitted``.
struct Claims: Sendable, Equatable {
    /// Every claim by name.
    let values: [String: ClaimValue]
    /// A member name the auth backend chose (a webhook's `name`); it replaces the `name` template.
    var memberName: String?
    /// The rooms the auth backend allows (a webhook's `rooms`: `"*"`, `"team-*"`); nil: any.
    var rooms: [String]?

    init(_ values: [String: ClaimValue], memberName: String? = nil, rooms: [String]? = nil) {
        self.values = values
        self.memberName = memberName
        self.rooms = rooms
    }

    /// `exp` as seconds since 1970, when the token has one.
    var expiry: Double? {
        if case .number(let value) = values["exp"] { return value }
        return nil
    }

    /// The value of a template field `claims.NAME` (empty when the token has no such claim); nil for a
    /// field that is not a claim.
    func field(_ field: String) -> String? {
        guard field.hasPrefix("claims.") else { return nil }
        return values[String(field.dropFirst(7))]?.text ?? ""
    }

    /// `WSGATE_CLAIM_<NAME>` for every string and number claim: the name upper-cased, characters other
    /// than letters, digits and `_` as `_`.
    var environment: [String: String] {
        var variables: [String: String] = [:]
        for (name, value) in values {
            guard let text = value.scalarText, !text.contains("\0") else { continue }
            let key = String(
                name.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
            variables["WSGATE_CLAIM_\(key)"] = text
        }
        return variables
    }
}
