import Foundation
import NIOCore

/// The client side of the opening handshake (RFC 6455 §4.1): the request, and the checks on the
/// server's answer. Pure: bytes in, a verdict out.
package struct ClientHandshake: Sendable {
    /// What the server agreed to in its 101.
    package struct Agreement: Sendable, Equatable {
        /// The subprotocol the server selected (one the client offered), if any.
        package var subprotocol: String?
        /// The extensions the server accepted, in its order (each one the client offered).
        package var extensions: [WebSocketExtensionOffer]
        /// Every header field of the 101.
        package var headers: [HTTPHeaderField]
    }

    /// What the server answered.
    package enum Outcome: Sendable, Equatable {
        /// 101: the session opens.
        case upgraded(Agreement)
        /// A 3xx with a `Location`.
        case redirect(status: Int, location: String)
        /// Any other status: the server refused the upgrade.
        case refused(status: Int, reason: String, headers: [HTTPHeaderField])
    }

    /// Why the answer is not a valid handshake response.
    package struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }

    /// The largest response head read.
    package static let maxHeadSize = 16 * 1024

    package let key: String
    package let target: String
    package let subprotocols: [String]
    package let offeredExtensions: Set<String>
    package let request: String

    /// Builds the request. `target` is the path and query; `host` the `Host` header value.
    package init(
        target: String,
        host: String,
        key: String,
        subprotocols: [String] = [],
        extensionOffers: [WebSocketExtensionOffer] = [],
        headers: [HTTPHeaderField] = []
    ) {
        self.key = key
        self.target = target
        self.subprotocols = subprotocols
        self.offeredExtensions = Set(extensionOffers.map { $0.name.lowercased() })
        var fields = Self.baseFields(host: host, key: key)
        if !subprotocols.isEmpty {
            fields.append(HTTPHeaderField("Sec-WebSocket-Protocol", subprotocols.joined(separator: ", ")))
        }
        if !extensionOffers.isEmpty {
            fields.append(
                HTTPHeaderField("Sec-WebSocket-Extensions", extensionOffers.map(\.description).joined(separator: ", ")))
        }
        fields += headers.filter(Self.isSafe)
        request = Self.requestHead(target: target, fields: fields)
    }

    /// The fields every opening handshake starts with: `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key`
    /// and `Sec-WebSocket-Version: 13`.
    package static func baseFields(host: String, key: String) -> [HTTPHeaderField] {
        [
            HTTPHeaderField("Host", host), HTTPHeaderField("Upgrade", "websocket"),
            HTTPHeaderField("Connection", "Upgrade"), HTTPHeaderField("Sec-WebSocket-Key", key),
            HTTPHeaderField("Sec-WebSocket-Version", "13"),
        ]
    }

    /// A `GET` request head with `fields` in order, as written to the wire (fields are not checked here:
    /// ``init(target:host:key:subprotocols:extensionOffers:headers:)`` drops unsafe ones, a test tool may not).
    package static func requestHead(target: String, fields: [HTTPHeaderField]) -> String {
        var text = "GET \(target) HTTP/1.1\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        return text + "\r\n"
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
    package static func randomKey<R: RandomNumberGenerator>(using generator: inout R) -> String {
        Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// Header names the client sets itself; a caller's field of one of these names is not sent.
    static let reserved: Set<String> = [
        "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
        "sec-websocket-extensions", "content-length", "transfer-encoding",
    ]

    /// A field is sent when its name is a token, its value has no line break, and the client does not set it.
    static func isSafe(_ field: HTTPHeaderField) -> Bool {
        !field.name.isEmpty && !reserved.contains(field.name.lowercased())
            && field.name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
            && !field.value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
    }

    /// An HTTP/1.1 response head: status line and header fields.
    package struct ResponseHead: Sendable, Equatable {
        package var status: Int
        package var reason: String
        package var headers: [HTTPHeaderField]
    }

    /// Reads an HTTP/1.1 response head from `buffer` (consuming it, the blank line included); nil while it is
    /// incomplete. What follows the head stays in `buffer`. Any HTTP client of the engine reads its answer with it.
    package static func readResponseHead(from buffer: inout ByteBuffer) throws(Failure) -> ResponseHead? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if buffer.readableBytes > Self.maxHeadSize {
                throw Failure("the response head is over \(Self.maxHeadSize) bytes")
            }
            return nil
        }
        guard let text = buffer.readString(length: end.upperBound - view.startIndex) else {
            throw Failure("unreadable response head")
        }
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let statusLine = lines.isEmpty ? "" : lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure("not an HTTP/1.1 response: \(statusLine.prefix(80))")
        }
        var headers: [HTTPHeaderField] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                throw Failure("malformed header line: \(line.prefix(80))")
            }
            headers.append(
                HTTPHeaderField(
                    String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingHTTPWhitespace()))
        }
        return ResponseHead(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
    }

    /// Reads the response head from `buffer` (consuming it); nil while it is incomplete.
    package func readResponse(from buffer: inout ByteBuffer) throws(Failure) -> Outcome? {
        guard let head = try Self.readResponseHead(from: &buffer) else { return nil }
        let (status, reason, headers) = (head.status, head.reason, head.headers)
        func values(_ name: String) -> [String] { headers.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value) }
        if (300..<400).contains(status), let location = values("Location").first {
            return .redirect(status: status, location: location)
        }
        guard status == 101 else { return .refused(status: status, reason: reason, headers: headers) }
        guard values("Upgrade").contains(where: { $0.caseInsensitiveEquals("websocket") }) else {
            throw Failure("the 101 has no `Upgrade: websocket`")
        }
        let connection = values("Connection").flatMap { $0.split(separator: ",") }
        guard connection.contains(where: { $0.trimmingHTTPWhitespace().caseInsensitiveEquals("upgrade") }) else {
            throw Failure("the 101 has no `Connection: Upgrade`")
        }
        guard values("Sec-WebSocket-Accept").first == Handshake.acceptKey(for: key) else {
            throw Failure("wrong or missing Sec-WebSocket-Accept")
        }
        let chosen = values("Sec-WebSocket-Protocol").flatMap { $0.split(separator: ",") }.map {
            $0.trimmingHTTPWhitespace()
        }
        guard chosen.count <= 1 else { throw Failure("the server selected several subprotocols: \(chosen)") }
        if let protocolName = chosen.first, !subprotocols.contains(protocolName) {
            throw Failure("the server selected subprotocol \(protocolName), which was not offered")
        }
        let extensionValues = values("Sec-WebSocket-Extensions")
        guard let accepted = ExtensionNegotiation.parseOffers(extensionValues) else {
            throw Failure("unreadable Sec-WebSocket-Extensions: \(extensionValues.joined(separator: ", "))")
        }
        var seen: Set<String> = []
        for entry in accepted {
            let name = entry.name.lowercased()
            guard offeredExtensions.contains(name), seen.insert(name).inserted else {
                throw Failure("the server agreed to an extension that was not offered: \(entry)")
            }
        }
        return .upgraded(Agreement(subprotocol: chosen.first, extensions: accepted, headers: headers))
    }
}
