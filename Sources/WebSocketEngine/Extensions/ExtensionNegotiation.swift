import NIOCore

/// Parsing of `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the negotiated set of a session.
package enum ExtensionNegotiation {
    /// Parses every value of the header into offers; nil when the header is malformed.
    package static func parseOffers(_ values: [String]) -> [WebSocketExtensionOffer]? {
        var offers: [WebSocketExtensionOffer] = []
        for value in values {
            var scanner = Scanner(Array(value.utf8))
            while true {
                scanner.skipSpaces()
                if scanner.atEnd { break }
                guard let name = scanner.token() else { return nil }
                var offer = WebSocketExtensionOffer(name: name)
                scanner.skipSpaces()
                while scanner.consume(UInt8(ascii: ";")) {
                    scanner.skipSpaces()
                    guard let parameter = scanner.token() else { return nil }
                    scanner.skipSpaces()
                    var parameterValue: String?
                    if scanner.consume(UInt8(ascii: "=")) {
                        scanner.skipSpaces()
                        guard let value = scanner.quotedString() ?? scanner.token() else { return nil }
                        parameterValue = value
                        scanner.skipSpaces()
                    }
                    offer.parameters.append(.init(parameter, parameterValue))
                }
                offers.append(offer)
                if scanner.atEnd { break }
                guard scanner.consume(UInt8(ascii: ",")) else { return nil }
            }
        }
        return offers
    }

    /// Lets each factory pick from the offers; returns the accepted extensions in negotiation order.
    /// A factory whose reserved bits collide with an earlier extension's is skipped.
    package static func negotiate(
        offers: [WebSocketExtensionOffer],
        factories: [any WebSocketExtensionFactory]
    ) -> [any WebSocketExtension] {
        var accepted: [any WebSocketExtension] = []
        var claimed: UInt8 = 0
        for factory in factories {
            let mine = offers.filter { $0.name.caseInsensitiveEquals(factory.name) }
            guard !mine.isEmpty, let negotiated = factory.negotiate(offers: mine) else { continue }
            let bits = negotiated.reservedBits & 0b111
            guard bits & claimed == 0 else { continue }
            claimed |= bits
            accepted.append(negotiated)
        }
        return accepted
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }

        mutating func skipSpaces() {
            while index < bytes.count && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func token() -> String? {
            let start = index
            while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }

        /// A quoted-string whose content must itself be a token (RFC 6455 §9.1).
        mutating func quotedString() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            var value: [UInt8] = []
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { index += 1 }
                guard index < bytes.count else { return nil }
                value.append(bytes[index])
                index += 1
            }
            guard consume(UInt8(ascii: "\"")), !value.isEmpty, value.allSatisfy(Self.isTokenByte) else { return nil }
            return String(decoding: value, as: UTF8.self)
        }

        static func isTokenByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
    }
}

/// The negotiated extensions of one session, applied to whole messages in negotiation order on the
/// way out and in reverse order on the way in.
package struct ExtensionPipeline {
    package let extensions: [any WebSocketExtension]

    package init(_ extensions: [any WebSocketExtension]) {
        self.extensions = extensions
    }

    /// The key under which this session can share encodings of broadcast messages: "" without
    /// extensions, nil when an extension keeps per-session state.
    package var sharedEncodingKey: String? {
        var keys: [String] = []
        for item in extensions {
            guard let key = item.sharedEncodingKey else { return nil }
            keys.append(key)
        }
        return keys.joined(separator: ",")
    }

    /// The reserved bits the extensions use.
    package var reservedBits: ReservedBits {
        ReservedBits(rawValue: extensions.reduce(0) { $0 | $1.reservedBits })
    }

    /// The `Sec-WebSocket-Extensions` response value, nil when none was negotiated.
    package var responseHeader: String? {
        extensions.isEmpty ? nil : extensions.map { $0.response.description }.joined(separator: ", ")
    }

    /// Restores an incoming message; text is validated as UTF-8 after the extensions ran.
    package func decode(_ message: AssembledMessage, maxSize: Int) throws(ProtocolViolation) -> AssembledMessage {
        guard !message.reserved.isEmpty else { return message }
        var data = message.data
        for item in extensions.reversed() where message.reserved.rawValue & item.reservedBits != 0 {
            do {
                data = try item.decode(data, reservedBits: message.reserved.rawValue, maxSize: maxSize)
            } catch WebSocketExtensionError.messageTooBig {
                throw .messageTooLarge(limit: maxSize)
            } catch WebSocketExtensionError.invalidData {
                throw .invalidUTF8InText
            } catch {
                throw .extensionFailed("\(error)")
            }
        }
        if data.readableBytes > maxSize { throw .messageTooLarge(limit: maxSize) }
        if message.kind == .text && !UTF8Validator.isValid(data.readableBytesView) { throw .invalidUTF8InText }
        return AssembledMessage(kind: message.kind, data: data, reserved: [])
    }

    /// Transforms an outgoing message; returns the payload and the reserved bits of its first frame.
    package func encode(_ payload: ByteBuffer, isText: Bool) throws -> (ByteBuffer, ReservedBits) {
        var data = payload
        var bits: UInt8 = 0
        for item in extensions {
            let (encoded, used) = try item.encode(data, isText: isText)
            data = encoded
            bits |= used & item.reservedBits
        }
        return (data, ReservedBits(rawValue: bits))
    }
}
