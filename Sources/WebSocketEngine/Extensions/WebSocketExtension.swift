import NIOCore

/// One entry of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension name and its
/// parameters, each with an optional value (quotes removed).
public struct WebSocketExtensionOffer: Sendable, Equatable, CustomStringConvertible {
    /// One `name[=value]` parameter.
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String?

        public init(_ name: String, _ value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// The extension token, e.g. `permessage-deflate`.
    public var name: String
    /// The parameters in the order given.
    public var parameters: [Parameter]

    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The header form, `name; a; b=1`, quoting values that are not tokens.
    public var description: String {
        ([name]
            + parameters.map { parameter in
                guard let value = parameter.value else { return parameter.name }
                let isToken =
                    !value.isEmpty
                    && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
                return "\(parameter.name)=\(isToken ? value : "\"\(value)\"")"
            }).joined(separator: "; ")
    }
}

/// Negotiates an extension for new sessions: register one in ``WebSocketOptions/extensions``.
///
/// During the handshake the server calls each factory, in the options' order, with the client's
/// offers of its ``name`` (in the client's order, several when the client offered alternatives).
public protocol WebSocketExtensionFactory: Sendable {
    /// The extension token this factory answers, e.g. `permessage-deflate`.
    var name: String { get }

    /// Chooses the first offer it can honour and returns the extension for this session, or nil to decline.
    func negotiate(offers: [WebSocketExtensionOffer]) -> (any WebSocketExtension)?
}

/// A negotiated extension of one session. Its methods run on the session's event loop only, one
/// message at a time, so it may keep per-session state (such as a compression context).
public protocol WebSocketExtension: AnyObject {
    /// The entry the server puts in its `Sec-WebSocket-Extensions` response.
    var response: WebSocketExtensionOffer { get }

    /// The reserved bits it uses, as the frame header's RSV1…RSV3 (RSV1 is `0b100`). A frame with a
    /// reserved bit that no negotiated extension uses still fails the connection with 1002.
    var reservedBits: UInt8 { get }

    /// Restores an incoming message whose first frame had some of ``reservedBits`` set.
    /// - Parameters:
    ///   - maxSize: the endpoint's `maxMessageSize`; the result must not exceed it.
    /// - Throws: any error fails the connection (1009 for ``WebSocketExtensionError/messageTooBig``,
    ///   1007 for ``WebSocketExtensionError/invalidData``, else 1002).
    func decode(_ message: ByteBuffer, reservedBits: UInt8, maxSize: Int) throws -> ByteBuffer

    /// Transforms an outgoing message; returns the payload and the reserved bits to set on its first frame.
    func encode(_ message: ByteBuffer, isText: Bool) throws -> (payload: ByteBuffer, reservedBits: UInt8)

    /// See the default implementation: nil unless the encoding is stateless.
    var sharedEncodingKey: String? { get }
}

extension WebSocketExtension {
    /// A key naming this extension's encoding when ``encode(_:isText:)`` depends only on its input
    /// (no per-session state): sessions with equal keys share one encoding of a broadcast message.
    /// The default, nil, makes every session encode for itself.
    public var sharedEncodingKey: String? { nil }
}

/// Errors an extension reports while decoding.
public enum WebSocketExtensionError: Error, Sendable, Equatable {
    /// The restored message would exceed `maxSize` (closes with 1009).
    case messageTooBig
    /// The payload cannot be restored (closes with 1007).
    case invalidData(String)
}
