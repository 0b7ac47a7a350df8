import NIOCore
import WebSocketEngine

/// `x-flip`: a toy extension that inverts every payload byte of the messages it marks with RSV2.
/// It exists to show a third-party extension written only against wsgate's public API.
public final class FlipExtension: WebSocketExtension {
    public let response: WebSocketExtensionOffer
    public let reservedBits: UInt8 = 0b010

    public init(response: WebSocketExtensionOffer) {
        self.response = response
    }

    static func flip(_ buffer: ByteBuffer) -> ByteBuffer {
        ByteBuffer(bytes: buffer.readableBytesView.map { ~$0 })
    }

    public func decode(_ message: ByteBuffer, reservedBits: UInt8, maxSize: Int) throws -> ByteBuffer {
        guard message.readableBytes <= maxSize else { throw WebSocketExtensionError.messageTooBig }
        return Self.flip(message)
    }

    public func encode(_ message: ByteBuffer, isText: Bool) throws -> (payload: ByteBuffer, reservedBits: UInt8) {
        (Self.flip(message), reservedBits)
    }
}

/// Negotiates `x-flip`: accepts the first offer without parameters, declines the rest.
public struct FlipFactory: WebSocketExtensionFactory {
    public let name = "x-flip"
    /// When set, the response carries `note=<value>` (a YAML parameter, to show how they arrive).
    public let note: String?

    public init(note: String? = nil) {
        self.note = note
    }

    public func negotiate(offers: [WebSocketExtensionOffer]) -> (any WebSocketExtension)? {
        guard offers.contains(where: { $0.parameters.isEmpty }) else { return nil }
        var response = WebSocketExtensionOffer(name: name)
        if let note { response.parameters.append(.init("note", note)) }
        return FlipExtension(response: response)
    }
}
