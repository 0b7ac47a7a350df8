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
    ///   - secure: the client reached the gateway over TLS (X-Forwarded-Proto `https`, else `http`).
    init(upstream: String, request: WebSocketRequest, passHeaders: [String], secure: Bool) {
        if request.query.isEmpty {
            url = upstream
        } else {
            url = upstream + (upstream.contains("?") ? "&" : "?") + request.query
        }
        var fields: [HTTPField] = []
        let forwarded: Set<String> = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]
        for name in passHeaders where !forwarded.contains(name.lowercased()) {
            for field in request.headers where field.name.caseInsensitiveEquals(name) {
                fields.append(HTTPField(name: field.name, value: field.value))
            }
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
            .filter { !$0.isEmpty }
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
