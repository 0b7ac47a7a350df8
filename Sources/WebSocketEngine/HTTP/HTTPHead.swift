import NIOCore

/// One header line of an HTTP message.
package struct HTTPHeaderField: Sendable, Equatable {
    package var name: String
    package var value: String
    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The head of an HTTP/1.x request: request line and header fields.
package struct HTTPRequestHead: Sendable, Equatable {
    package var method: String
    package var target: String
    package var version: (major: Int, minor: Int)
    package var headers: [HTTPHeaderField]

    package init(method: String, target: String, version: (major: Int, minor: Int), headers: [HTTPHeaderField]) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    package static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.version == rhs.version
            && lhs.headers == rhs.headers
    }

    /// Every value of a header (names compare case-insensitively).
    package func values(_ name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// The first value of a header.
    package func first(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// The comma-separated tokens of a header over all its lines, trimmed and lowercased.
    package func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingHTTPWhitespace().lowercased() }
            .filter { !$0.isEmpty }
    }

    /// The comma-separated items of a header over all its lines, trimmed, case kept.
    package func list(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingHTTPWhitespace() }.filter { !$0.isEmpty }
    }

    /// The path part of the request target, without the query.
    package var path: String {
        if let index = target.firstIndex(of: "?") { return String(target[..<index]) }
        return target
    }

    /// The query part of the request target, without the `?` (empty when absent).
    package var query: String {
        if let index = target.firstIndex(of: "?") { return String(target[target.index(after: index)...]) }
        return ""
    }
}

/// Why a request head could not be read.
package enum HTTPHeadError: Error, Sendable, Equatable {
    /// The head did not end within the size limit.
    case tooLarge(limit: Int)
    /// The head is not HTTP/1.x.
    case malformed(String)
}

/// Reads an HTTP/1.x request head from a byte stream, bounded by `maxSize` bytes.
package struct HTTPHeadParser: Sendable {
    private let maxSize: Int
    private var scanned = 0

    package init(maxSize: Int) {
        self.maxSize = maxSize
    }

    /// Consumes and returns the head once `\r\n\r\n` has arrived; nil while more bytes are needed.
    package mutating func parse(_ buffer: inout ByteBuffer) throws(HTTPHeadError) -> HTTPRequestHead? {
        let view = buffer.readableBytesView
        var end: Int?
        var index = view.startIndex + max(0, scanned - 3)
        while index + 3 < view.endIndex {
            if view[index] == 13 && view[index + 1] == 10 && view[index + 2] == 13 && view[index + 3] == 10 {
                end = index - view.startIndex
                break
            }
            index += 1
        }
        guard let end else {
            if view.count > maxSize { throw .tooLarge(limit: maxSize) }
            scanned = view.count
            return nil
        }
        if end + 4 > maxSize { throw .tooLarge(limit: maxSize) }
        guard let bytes = buffer.readBytes(length: end + 4) else { return nil }
        scanned = 0
        return try Self.parseHead(String(decoding: bytes[0..<end], as: UTF8.self))
    }

    private static func parseHead(_ text: String) throws(HTTPHeadError) -> HTTPRequestHead {
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        while let first = lines.first, first.isEmpty { lines = lines.dropFirst() }
        guard let requestLine = lines.popFirst() else { throw .malformed("empty request") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .malformed("request line is not 'METHOD TARGET HTTP/1.1'")
        }
        let versionText = parts[2]
        guard versionText.hasPrefix("HTTP/"), versionText.count == 8,
            let major = Int(versionText.dropFirst(5).prefix(1)), let minor = Int(versionText.suffix(1)),
            versionText.dropFirst(6).first == "."
        else { throw .malformed("unknown protocol version '\(versionText)'") }
        var headers: [HTTPHeaderField] = []
        for line in lines {
            guard let first = line.first else { continue }
            if first == " " || first == "\t" { throw .malformed("folded header line") }
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("header line without ':'") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy(\.isHTTPTokenCharacter) else {
                throw .malformed("invalid header name '\(name)'")
            }
            let value = line[line.index(after: colon)...].trimmingHTTPWhitespace()
            headers.append(HTTPHeaderField(String(name), value))
        }
        return HTTPRequestHead(
            method: String(parts[0]),
            target: String(parts[1]),
            version: (major, minor),
            headers: headers
        )
    }
}

/// An HTTP/1.1 response head with an optional small text body.
package struct HTTPResponse: Sendable, Equatable {
    package var status: Int
    package var reason: String
    package var headers: [HTTPHeaderField]
    package var body: String

    package init(status: Int, reason: String, headers: [HTTPHeaderField] = [], body: String = "") {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// A plain-text error response that closes the connection.
    package static func error(_ status: Int, _ reason: String, _ body: String, headers: [HTTPHeaderField] = [])
        -> HTTPResponse
    {
        var all = headers
        all.append(HTTPHeaderField("Content-Type", "text/plain; charset=utf-8"))
        all.append(HTTPHeaderField("Connection", "close"))
        return HTTPResponse(status: status, reason: reason, headers: all, body: body + "\n")
    }

    /// The standard reason phrase of a status code.
    package static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        default: return "Error"
        }
    }

    /// Writes the response in HTTP/1.1 wire format.
    package func write(into buffer: inout ByteBuffer) {
        buffer.writeString("HTTP/1.1 \(status) \(reason)\r\n")
        for header in headers {
            buffer.writeString("\(header.name): \(header.value)\r\n")
        }
        if status != 101 && status != 304
            && !headers.contains(where: { $0.name.caseInsensitiveEquals("Content-Length") })
        {
            buffer.writeString("Content-Length: \(body.utf8.count)\r\n")
        }
        buffer.writeString("\r\n")
        buffer.writeString(body)
    }
}

extension Character {
    /// `tchar` of RFC 9110 §5.6.2.
    fileprivate var isHTTPTokenCharacter: Bool {
        guard isASCII, let ascii = asciiValue else { return false }
        switch ascii {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".contains(self)
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    package func trimmingHTTPWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }

    /// ASCII case-insensitive comparison, as HTTP header names need.
    package func caseInsensitiveEquals<Other: StringProtocol>(_ other: Other) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return zip(utf8, other.utf8).allSatisfy { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A)
        }
    }
}
