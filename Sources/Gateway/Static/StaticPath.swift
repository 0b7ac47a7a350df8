/// Maps a request path to a file path under a static endpoint's directory, refusing every way out of it
/// before the file system is asked anything: a pure function of the text, unit-tested.
///
/// What it refuses: a path outside the endpoint's prefix; `..` and `.` segments and names starting with
/// `.` (dotfiles), also when written percent-encoded (`%2e%2e`); an encoded `/` (`%2f`) or `\` (`%5c`);
/// a raw `\`; NUL (`%00`) and other control characters; broken percent-encoding and bytes that are not
/// UTF-8. Symbolic links are the file system's business: ``StaticFiles`` resolves the result with
/// `realpath` and checks it is still inside the directory.
package enum StaticPath {
    /// The outcome for one request path.
    package enum Resolution: Sendable, Equatable {
        /// The path's segments under the directory (empty: the directory itself), and whether the
        /// request named a directory (a trailing `/`).
        case file(segments: [String], trailingSlash: Bool)
        /// Not served; `status` is 404 (nothing there for you) or 400 (not a path at all).
        case refused(status: Int, reason: String)
    }

    /// Resolves `path` (the request path without its query, still percent-encoded) for an endpoint at
    /// `prefix` (`/` or `/static`: a literal path without a trailing slash, `/` excepted).
    package static func resolve(_ path: String, prefix: String) -> Resolution {
        let rest: Substring
        if prefix == "/" {
            rest = Substring(path)
        } else if path == prefix {
            rest = ""
        } else if path.hasPrefix(prefix + "/") {
            rest = path.dropFirst(prefix.count)
        } else {
            return .refused(status: 404, reason: "outside the endpoint's path")
        }
        guard !rest.contains("\\") else { return .refused(status: 404, reason: "backslash in the path") }
        var segments: [String] = []
        for raw in rest.split(separator: "/", omittingEmptySubsequences: true) {
            guard let bytes = percentDecoded(raw) else {
                return .refused(status: 400, reason: "malformed percent-encoding")
            }
            if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                return .refused(status: 404, reason: "control character in the path")
            }
            if bytes.contains(UInt8(ascii: "/")) || bytes.contains(UInt8(ascii: "\\")) {
                return .refused(status: 404, reason: "encoded separator in the path")
            }
            guard let segment = String(validating: bytes, as: UTF8.self) else {
                return .refused(status: 400, reason: "the path is not UTF-8")
            }
            if segment.hasPrefix(".") {
                return .refused(status: 404, reason: "'.', '..' or a dotfile in the path")
            }
            segments.append(segment)
        }
        return .file(segments: segments, trailingSlash: rest.isEmpty || rest.hasSuffix("/"))
    }

    /// The bytes of a percent-encoded segment; nil when a `%` is not followed by two hex digits.
    static func percentDecoded(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
