/// JSON string literals written by hand (the console's endpoint list, JSON log lines, and the YAML
/// `wsgate relay --print-config` writes: a JSON string is a YAML double-quoted scalar).
package enum JSONText {
    /// `text` as a JSON string literal, also safe inside an HTML `<script>` element: `<`, `>`, `&`,
    /// U+2028, U+2029 and control characters are written as `\uXXXX`.
    package static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}": out += unicodeEscape(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `\uXXXX` for a scalar of the Basic Multilingual Plane.
    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
