import NIOCore
import WebSocketEngine

/// The client side of the opening handshake (RFC 6455 §4.1): the request, and the checks on the
/// server's answer. Pure: bytes in, a verdict out.
struct ClientHandshake: Sendable {
    /// What the server agreed to.
    struct Agreement: Sendable, Equatable {
        /// permessage-deflate, when the server accepted it.
        var deflate: DeflateParameters?
    }

    /// The permessage-deflate parameters the server answered with (RFC 7692 §7.1).
    struct DeflateParameters: Sendable, Equatable {
        /// The server resets its compressor after each message, so our decompressor must too.
        var serverNoContextTakeover: Bool
    }

    /// Why the server's answer is not an upgrade.
    struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The offer sent with `deflate`: no context takeover either way, the one form every peer in the
    /// benchmark (gorilla/websocket among them) supports, so all do the same work.
    static let deflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

    let key: String
    let request: ByteBuffer

    init(url: BenchURL, deflate: Bool, key: String) {
        self.key = key
        var text = "GET \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUpgrade: websocket\r\n"
        text += "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if deflate { text += "Sec-WebSocket-Extensions: \(Self.deflateOffer)\r\n" }
        text += "User-Agent: wsgate-bench\r\n\r\n"
        request = ByteBuffer(string: text)
    }

    /// Reads the response head from `buffer` (consuming it); nil while it is incomplete.
    func readResponse(from buffer: inout ByteBuffer, deflateOffered: Bool) throws(Refusal) -> Agreement? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if buffer.readableBytes > 16 * 1024 { throw Refusal(description: "response head over 16 KiB") }
            return nil
        }
        let text = buffer.readString(length: end.upperBound - view.startIndex) ?? ""
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        let status = lines.isEmpty ? "" : lines.removeFirst()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else {
            throw Refusal(description: "not an HTTP response: \(status.prefix(80))")
        }
        guard parts[1] == "101" else {
            throw Refusal(description: "the server answered HTTP \(parts[1...].joined(separator: " ")), not 101")
        }
        var accept: String?
        var extensions: [String] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            if name == "sec-websocket-accept" { accept = value }
            if name == "sec-websocket-extensions" { extensions.append(value) }
        }
        guard accept == Handshake.acceptKey(for: key) else {
            throw Refusal(description: "wrong or missing Sec-WebSocket-Accept")
        }
        guard let offers = ExtensionNegotiation.parseOffers(extensions) else {
            throw Refusal(description: "unreadable Sec-WebSocket-Extensions: \(extensions.joined(separator: ", "))")
        }
        var agreement = Agreement()
        for offer in offers {
            guard offer.name == "permessage-deflate", deflateOffered, agreement.deflate == nil else {
                throw Refusal(description: "the server agreed to an extension that was not offered: \(offer)")
            }
            agreement.deflate = DeflateParameters(
                serverNoContextTakeover: offer.parameters.contains { $0.name == "server_no_context_takeover" })
        }
        return agreement
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
