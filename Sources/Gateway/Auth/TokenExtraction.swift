import Foundation
import GatewayConfig

/// Finds a token in a handshake request, trying `token_from` in order. Pure: the request's parts in,
/// the token (or why there is none) out.
enum TokenExtraction {
    /// The prefix of the subprotocol that carries a token.
    static let subprotocolPrefix = "base64url.bearer."

    enum Outcome: Equatable {
        case found(String)
        /// A source held something that cannot be a token (`Authorization: Basic …`).
        case malformed(String)
        case missing
    }

    static func token(
        from sources: [JWTSettings.TokenSource],
        query: [String: String],
        headers: [(name: String, value: String)]
    ) -> Outcome {
        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }
        for source in sources {
            switch source {
            case .query(let name):
                if let value = query[name], !value.isEmpty { return .found(value) }
            case .header(let name):
                guard let value = values(name).first?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                    continue
                }
                if name.lowercased() != "authorization" { return .found(value) }
                let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                    return .malformed("the Authorization header must be 'Bearer <token>'")
                }
                return .found(parts[1].trimmingCharacters(in: .whitespaces))
            case .cookie(let name):
                for header in values("Cookie") {
                    for pair in header.split(separator: ";") {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                            let value = parts[1].trimmingCharacters(in: .whitespaces)
                            if !value.isEmpty { return .found(value) }
                        }
                    }
                }
            case .subprotocol:
                for header in values("Sec-WebSocket-Protocol") {
                    for offer in header.split(separator: ",") {
                        let offer = offer.trimmingCharacters(in: .whitespaces)
                        guard offer.hasPrefix(subprotocolPrefix) else { continue }
                        let carried = String(offer.dropFirst(subprotocolPrefix.count))
                        // A JWT is already base64url with dots; anything else is the token base64url-encoded.
                        if carried.contains(".") { return .found(carried) }
                        guard let decoded = base64URLDecode(carried), let text = String(bytes: decoded, encoding: .utf8)
                        else {
                            return .malformed("the bearer subprotocol does not hold base64url")
                        }
                        return .found(text)
                    }
                }
            }
        }
        return .missing
    }

    /// Decodes base64url without padding; nil when it is not.
    static func base64URLDecode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
