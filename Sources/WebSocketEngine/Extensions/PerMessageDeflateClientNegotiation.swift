/// Client-side negotiation of permessage-deflate (RFC 7692 §5, §7.1): the offer a client sends and the
/// check of the server's answer, as pure functions.
package enum PerMessageDeflateClientNegotiation {
    /// The offer for `configuration`: the no-context-takeover parameters it asks for, and no
    /// `client_max_window_bits` (the server may not limit the client's window: zlib cannot compress with 8 bits).
    package static func offer(_ configuration: PerMessageDeflateConfiguration) -> WebSocketExtensionOffer {
        var offer = WebSocketExtensionOffer(name: PerMessageDeflateNegotiation.name)
        if configuration.serverNoContextTakeover { offer.parameters.append(.init("server_no_context_takeover")) }
        if configuration.clientNoContextTakeover { offer.parameters.append(.init("client_no_context_takeover")) }
        if configuration.serverMaxWindowBits < 15 {
            offer.parameters.append(.init("server_max_window_bits", String(max(8, configuration.serverMaxWindowBits))))
        }
        return offer
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
            default:
                // client_max_window_bits was not offered, so the server may not send it (§7.1.2.2).
                return nil
            }
        }
        if configuration.serverNoContextTakeover && !serverResets { return nil }
        return DeflateAgreement(
            serverNoContextTakeover: clientResets,
            clientNoContextTakeover: serverResets,
            serverMaxWindowBits: max(9, min(15, configuration.clientMaxWindowBits)),
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
