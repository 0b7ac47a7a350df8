import WebSocketEngine

/// What the upstream request of a proxied session carries, as a pure function of the client's request.
struct ProxyRequest: Sendable, Equatable {
    /// The upstream URL: the configured one with the client's query appended.
    var url: String
    /// Header fields for the upstream request: the chosen ones, then X-Forwarded-For, -Proto and -Host.
    var headers: [HTTPField]
    /// The subprotocols the client offered, in its order (the upstream chooses).
    var subprotocols: [String]

    struct HTTPField: Sendable, Equatable {
        var name: String
        var value: String
    }

    /// - Parameters:
    ///   - upstream: the configured URL, e.g. `ws://backend:9000/live` or `ws://backend/live?v=2`.
    ///   - set: fields the gateway sets (`headers:`, claims filled in); the client's own fields of these
    ///     names are not passed, and control characters in their values are removed.
    ///   - withoutQuery: query parameters not passed on (where `auth:` read the token).
    ///   - withoutBearer: the token's subprotocol (`base64url.bearer.…`) is not offered upstream.
    ///   - secure: the client reached the gateway over TLS (X-Forwarded-Proto `https`, else `http`).
    init(
        upstream: String, request: WebSocketRequest, passHeaders: [String], set: [HTTPField] = [],
        withoutQuery: [String] = [], withoutBearer: Bool = false, secure: Bool
    ) {
        let query = Self.query(request.query, without: withoutQuery)
        if query.isEmpty {
            url = upstream
        } else {
            url = upstream + (upstream.contains("?") ? "&" : "?") + query
        }
        var fields: [HTTPField] = []
        let owned = Set(set.map { $0.name.lowercased() })
        let forwarded: Set<String> = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]
        for name in passHeaders where !forwarded.contains(name.lowercased()) && !owned.contains(name.lowercased()) {
            for field in request.headers where field.name.caseInsensitiveEquals(name) {
                fields.append(HTTPField(name: field.name, value: field.value))
            }
        }
        for field in set {
            // A claim is the token issuer's text: never a line break into the upstream request.
            let value = String(
                String.UnicodeScalarView(field.value.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }))
            fields.append(HTTPField(name: field.name, value: value))
        }
        // A client's own X-Forwarded-For is kept in front of its address, as nginx's
        // $proxy_add_x_forwarded_for does; the last entry is the one this gateway vouches for.
        let earlier = request.headers.filter { $0.name.caseInsensitiveEquals("X-Forwarded-For") }.map(\.value)
        let address = request.remoteAddress ?? "unknown"
        fields.append(HTTPField(name: "X-Forwarded-For", value: (earlier + [address]).joined(separator: ", ")))
        fields.append(HTTPField(name: "X-Forwarded-Proto", value: secure ? "https" : "http"))
        if let host = request.header("Host") { fields.append(HTTPField(name: "X-Forwarded-Host", value: host)) }
        headers = fields
        subprotocols = request.headers.filter { $0.name.caseInsensitiveEquals("Sec-WebSocket-Protocol") }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingHTTPWhitespace() }
            .filter { !$0.isEmpty && !(withoutBearer && $0.hasPrefix(TokenExtraction.subprotocolPrefix)) }
    }

    /// `query` without the parameters named in `names` (compared after percent-decoding), the rest as sent.
    static func query(_ query: String, without names: [String]) -> String {
        guard !names.isEmpty, !query.isEmpty else { return query }
        return query.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let decoded = String(name).replacingOccurrences(of: "+", with: " ")
            return !names.contains(decoded.removingPercentEncoding ?? decoded)
        }.joined(separator: "&")
    }
}

/// How a close passes from one side of a proxied session to the other.
enum ProxyClose {
    /// The close to send to the other side when one side ended with `reason`. Codes a peer may not send
    /// (1005 stays "no status"; 1006 and 1015, a lost connection) become 1014 towards the client and 1001
    /// towards the upstream.
    static func forward(_ reason: CloseReason, towardsClient: Bool) -> CloseReason {
        switch reason.code {
        case .abnormalClosure, .tlsHandshakeFailure:
            return towardsClient
                ? CloseReason(.badGateway, "upstream connection lost") : CloseReason(.goingAway, "client went away")
        default:
            return reason
        }
    }
}
