/// The settings of permessage-deflate (RFC 7692) for an endpoint; the defaults are wsgate's.
public struct PerMessageDeflateConfiguration: Sendable, Equatable {
    /// zlib level, 0 (store) to 9 (smallest). Default 6.
    public var compressionLevel: Int
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear). Default 32.
    public var compressMinSize: Int
    /// Compress every message on its own, without the context of earlier ones. Default true: the
    /// compressor then lives with the event loop, not the session (no zlib memory per session at rest),
    /// and a broadcast compresses a message once for all its members; small messages that repeat
    /// themselves (JSON) compress about 4× less well than with context (`Benchmarks/deflate_ratio.py`).
    public var serverNoContextTakeover: Bool
    /// Ask the client to reset its compression context after every message. Default false.
    public var clientNoContextTakeover: Bool
    /// Largest LZ77 window the server compresses with, as bits (9–15; zlib cannot compress with 8). Default 15.
    public var serverMaxWindowBits: Int
    /// Largest window the client is asked to compress with, when it offers to be limited (8–15). Default 15.
    public var clientMaxWindowBits: Int
    /// zlib's memory level (1–9) for a compressor that keeps its context between messages: its hash
    /// table is 2^(level + 8) bytes, touched in full when the stream is made. Default 4 (zlib's own
    /// default, 8, costs 60 KiB more per session for a ratio within 1% on text and JSON).
    public var memoryLevel: Int

    /// Creates a configuration; every argument has wsgate's default.
    public init(
        compressionLevel: Int = 6,
        compressMinSize: Int = 32,
        serverNoContextTakeover: Bool = true,
        clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int = 15,
        clientMaxWindowBits: Int = 15,
        memoryLevel: Int = 4
    ) {
        self.compressionLevel = compressionLevel
        self.compressMinSize = compressMinSize
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.memoryLevel = memoryLevel
    }
}

/// What the server and a client agreed for permessage-deflate.
package struct DeflateAgreement: Sendable, Equatable {
    /// The server resets its compressor after each message.
    package var serverNoContextTakeover: Bool
    /// The client resets its compressor after each message (so the server may reset its decompressor).
    package var clientNoContextTakeover: Bool
    /// The window the server compresses with.
    package var serverMaxWindowBits: Int
    /// The largest window the client compresses with (15 unless `client_max_window_bits` limited it).
    package var clientMaxWindowBits: Int = 15
    /// The response entry for `Sec-WebSocket-Extensions`.
    package var response: WebSocketExtensionOffer
}

/// Server-side negotiation of permessage-deflate (RFC 7692 §7.1), as a pure function of the offers.
package enum PerMessageDeflateNegotiation {
    package static let name = "permessage-deflate"

    /// Accepts the first offer that can be honoured, in the client's order; nil declines them all.
    package static func negotiate(
        offers: [WebSocketExtensionOffer],
        configuration: PerMessageDeflateConfiguration
    ) -> DeflateAgreement? {
        for offer in offers where offer.name.caseInsensitiveEquals(name) {
            if let agreement = accept(offer, configuration) { return agreement }
        }
        return nil
    }

    /// The agreement for one offer, or nil when it has an unknown, repeated or invalid parameter, or
    /// asks for something the server cannot do.
    static func accept(_ offer: WebSocketExtensionOffer, _ configuration: PerMessageDeflateConfiguration)
        -> DeflateAgreement?
    {
        var names: Set<String> = []
        var serverNoContextTakeoverRequested = false
        var clientNoContextTakeoverHinted = false
        var serverWindowLimit: Int?
        var clientWindowOffered = false
        var clientWindowLimit: Int?
        for parameter in offer.parameters {
            let key = parameter.name.lowercased()
            guard names.insert(key).inserted else { return nil }
            switch key {
            case "server_no_context_takeover":
                guard parameter.value == nil else { return nil }
                serverNoContextTakeoverRequested = true
            case "client_no_context_takeover":
                guard parameter.value == nil else { return nil }
                clientNoContextTakeoverHinted = true
            case "server_max_window_bits":
                guard let bits = parameter.value.flatMap(windowBits) else { return nil }
                serverWindowLimit = bits
            case "client_max_window_bits":
                clientWindowOffered = true
                if let value = parameter.value {
                    guard let bits = windowBits(value) else { return nil }
                    clientWindowLimit = bits
                }
            default:
                return nil
            }
        }
        let configuredServerBits = max(9, min(15, configuration.serverMaxWindowBits))
        let serverBits = min(configuredServerBits, serverWindowLimit ?? 15)
        // zlib cannot compress with an 8-bit window (it silently uses 9), so such an offer is declined.
        guard serverBits >= 9 else { return nil }

        var response = WebSocketExtensionOffer(name: name)
        let serverNoContextTakeover = configuration.serverNoContextTakeover || serverNoContextTakeoverRequested
        let clientNoContextTakeover = configuration.clientNoContextTakeover || clientNoContextTakeoverHinted
        if serverNoContextTakeover { response.parameters.append(.init("server_no_context_takeover")) }
        if clientNoContextTakeover { response.parameters.append(.init("client_no_context_takeover")) }
        if serverWindowLimit != nil || serverBits < 15 {
            response.parameters.append(.init("server_max_window_bits", String(serverBits)))
        }
        // The client's window may only be limited when the client offered client_max_window_bits.
        var clientBits = 15
        if clientWindowOffered {
            clientBits = min(max(8, min(15, configuration.clientMaxWindowBits)), clientWindowLimit ?? 15)
            if clientBits < 15 || clientWindowLimit != nil {
                response.parameters.append(.init("client_max_window_bits", String(clientBits)))
            }
        }
        return DeflateAgreement(
            serverNoContextTakeover: serverNoContextTakeover,
            clientNoContextTakeover: clientNoContextTakeover,
            serverMaxWindowBits: serverBits,
            // zlib inflates an 8-bit window only with a 9-bit one (RFC 7692 §7.1.2.2 allows it).
            clientMaxWindowBits: max(9, clientBits),
            response: response
        )
    }

    /// `8` to `15` without leading zeros (RFC 7692 §7.1.2.1).
    private static func windowBits(_ text: String) -> Int? {
        guard let value = Int(text), (8...15).contains(value), String(value) == text else { return nil }
        return value
    }
}
