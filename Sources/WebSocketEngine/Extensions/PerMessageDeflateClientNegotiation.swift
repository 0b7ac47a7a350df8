/// Client-side negotiation of permessage-deflate (RFC 7692 §5, §7.1): the offer a client sends and the
/// check of the server's answer, as pure functions.
package enum PerMessageDeflateClientNegotiation {
    /// The offer for `configuration`: the no-context-takeover parameters it asks for, the server's window
    /// when limited, and `client_max_window_bits` (with the configured window when below 15), so the
    /// server may limit the client's window to what it wants to keep (9–15; zlib cannot compress with 8).
    package static func offer(_ configuration: PerMessageDeflateConfiguration) -> WebSocketExtensionOffer {
        var offer = WebSocketExtensionOffer(name: PerMessageDeflateNegotiation.name)
        if configuration.serverNoContextTakeover { offer.parameters.append(.init("server_no_context_takeover")) }
        if configuration.clientNoContextTakeover { offer.parameters.append(.init("client_no_context_takeover")) }
        if configuration.serverMaxWindowBits < 15 {
            offer.parameters.append(.init("server_max_window_bits", String(max(8, configuration.serverMaxWindowBits))))
        }
        let ownBits = localWindowBits(configuration)
        offer.parameters.append(.init("client_max_window_bits", ownBits < 15 ? String(ownBits) : nil))
        return offer
    }

    /// The window the client compresses with unless the server limits it: the configured one, 9 to 15.
    private static func localWindowBits(_ configuration: PerMessageDeflateConfiguration) -> Int {
        max(9, min(15, configuration.clientMaxWindowBits))
    }

    /// The agreement the server's response entry makes, seen from the client: the fields named `server…`
    /// of ``DeflateAgreement`` describe the local (client) compressor, `clientNoContextTakeover` the peer's.
    /// Nil when the response has an unknown, repeated or invalid parameter, or one the offer did not allow.
    package static func accept(
        _ response: WebSocketExtensionOffer, configuration: PerMessageDeflateConfiguration
    ) -> DeflateAgreement? {
        guard response.name.caseInsensitiveEquals(PerMessageDeflateNegotiation.name) else { return nil }
        var names: Set<String> = []
        var serverResets = false
        var clientResets = configuration.clientNoContextTakeover
        var ownBits = localWindowBits(configuration)
        for parameter in response.parameters {
            let key = parameter.name.lowercased()
            guard names.insert(key).inserted else { return nil }
            switch key {
            case "server_no_context_takeover":
                guard parameter.value == nil else { return nil }
                serverResets = true
            case "client_no_context_takeover":
                guard parameter.value == nil else { return nil }
                clientResets = true
            case "server_max_window_bits":
                guard let value = parameter.value, let bits = Int(value), (8...15).contains(bits),
                    value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 })
                else { return nil }
                // Our decompressor uses a 15-bit window, which reads any smaller one.
                if configuration.serverMaxWindowBits < 15, bits > max(8, configuration.serverMaxWindowBits) {
                    return nil
                }
            case "client_max_window_bits":
                // The server limits our window (§7.1.2.2). 8 cannot be honoured (zlib's raw deflate uses
                // 9 bits for 8): the response is refused, which fails the connection (§5.2).
                guard let value = parameter.value, let bits = Int(value), (9...15).contains(bits),
                    value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 })
                else { return nil }
                ownBits = min(ownBits, bits)
            default:
                return nil
            }
        }
        if configuration.serverNoContextTakeover && !serverResets { return nil }
        return DeflateAgreement(
            serverNoContextTakeover: clientResets,
            clientNoContextTakeover: serverResets,
            serverMaxWindowBits: ownBits,
            response: response
        )
    }

    /// The session's extension for an accepted response entry, or nil when the entry is not acceptable.
    package static func makeExtension(
        _ response: WebSocketExtensionOffer, configuration: PerMessageDeflateConfiguration
    ) -> (any WebSocketExtension)? {
        accept(response, configuration: configuration).map {
            PerMessageDeflate(agreement: $0, configuration: configuration)
        }
    }
}
