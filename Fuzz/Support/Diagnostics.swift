/// Whether a diagnostic's line and column (both 1-based) are a place in `text`: a line of it, or the one
/// just past its end, and a column within that line or just past its end.
///
/// Lines end as YAML ends them (LF, CR, CR LF, NEL, LS, PS) and columns count Unicode scalars, as the
/// YAML parser's marks do.
public func isPlace(line: Int, column: Int, in text: String) -> Bool {
    var lengths: [Int] = []
    var current = 0
    var previous: Unicode.Scalar?
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n" where previous == "\r":
            break
        case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}":
            lengths.append(current)
            current = 0
        default:
            current += 1
        }
        previous = scalar
    }
    lengths.append(current)
    guard line >= 1, column >= 1, line <= lengths.count + 1 else { return false }
    return column <= (line <= lengths.count ? lengths[line - 1] : 0) + 1
}
