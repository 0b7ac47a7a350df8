import Foundation

/// Why an upgrade request was refused; each maps to one HTTP status.
package enum HandshakeRefusal: String, Sendable, Equatable, CaseIterable {
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case badVersion = "bad_http_version"
    case missingHost = "missing_host"
    case notAnUpgrade = "not_an_upgrade"
    case missingConnectionUpgrade = "missing_connection_upgrade"
    case unsupportedWebSocketVersion = "unsupported_websocket_version"
    case badKey = "bad_key"
    case originNotAllowed = "origin_not_allowed"
    case headTooLarge = "head_too_large"
    case malformedRequest = "malformed_request"
    case serverBusy = "server_busy"
    /// The client address holds `max_connections_per_ip` sessions (429).
    case addressLimit = "ip_limit"
    /// The client address opens sessions faster than `new_connections_per_ip_per_second` (429).
    case addressRateLimited = "ip_rate_limited"
    /// The client address holds the endpoint's `max_connections_per_ip` sessions (429).
    case endpointAddressLimit = "endpoint_ip_limit"
    /// The server opens sessions faster than `new_connections_per_second` (503).
    case rateLimited = "rate_limited"
    case notAdmitted = "not_admitted"
    case draining = "draining"
    case handshakeTimeout = "handshake_timeout"
}

/// What an endpoint allows in a handshake.
package struct HandshakePolicy: Sendable, Equatable {
    /// Exact origins allowed, or `["*"]` for any. A request without `Origin` (not a browser) is allowed.
    package var allowedOrigins: [String]
    /// Subprotocols in server preference order.
    package var subprotocols: [String]

    package init(allowedOrigins: [String] = ["*"], subprotocols: [String] = []) {
        self.allowedOrigins = allowedOrigins
        self.subprotocols = subprotocols
    }
}

/// The opening handshake of RFC 6455 §4.2 as a pure function of the request head.
package enum Handshake {
    /// The GUID of RFC 6455 §1.3.
    package static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The outcome of checking a request.
    package enum Outcome: Sendable, Equatable {
        /// Upgrade with this `Sec-WebSocket-Accept` value and subprotocol.
        case accept(acceptKey: String, subprotocol: String?)
        /// Refuse with this response.
        case refuse(HandshakeRefusal, HTTPResponse)
    }

    /// `Sec-WebSocket-Accept` for a client key.
    package static func acceptKey(for key: String) -> String {
        Data(SHA1.hash(Array((key + guid).utf8))).base64EncodedString()
    }

    /// Checks a request against RFC 6455 §4.2.1 and the endpoint's policy.
    /// Whether a request asks to switch protocols at all (it has an `Upgrade` header): such a request
    /// goes to the WebSocket endpoint of its path even where a tree of files shares the path.
    package static func asksForUpgrade(_ head: HTTPRequestHead) -> Bool {
        !head.values("Upgrade").isEmpty
    }

    package static func evaluate(_ head: HTTPRequestHead, policy: HandshakePolicy) -> Outcome {
        guard head.method == "GET" else {
            return .refuse(
                .methodNotAllowed,
                .error(
                    405,
                    "Method Not Allowed",
                    "A WebSocket handshake uses GET, not \(head.method).",
                    headers: [HTTPHeaderField("Allow", "GET")]
                )
            )
        }
        guard head.version.major == 1, head.version.minor >= 1 else {
            return .refuse(.badVersion, .error(400, "Bad Request", "A WebSocket handshake needs HTTP/1.1."))
        }
        guard head.first("Host") != nil else {
            return .refuse(.missingHost, .error(400, "Bad Request", "The request has no Host header."))
        }
        guard head.tokens("Upgrade").contains("websocket") else {
            return .refuse(
                .notAnUpgrade,
                .error(
                    426,
                    "Upgrade Required",
                    "This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).",
                    headers: [HTTPHeaderField("Upgrade", "websocket"), HTTPHeaderField("Sec-WebSocket-Version", "13")]
                )
            )
        }
        guard head.tokens("Connection").contains("upgrade") else {
            return .refuse(
                .missingConnectionUpgrade,
                .error(400, "Bad Request", "The request needs 'Connection: Upgrade'.")
            )
        }
        guard head.tokens("Sec-WebSocket-Version") == ["13"] else {
            return .refuse(
                .unsupportedWebSocketVersion,
                .error(
                    426,
                    "Upgrade Required",
                    "Only WebSocket version 13 is supported.",
                    headers: [HTTPHeaderField("Sec-WebSocket-Version", "13")]
                )
            )
        }
        guard let key = head.first("Sec-WebSocket-Key"), head.values("Sec-WebSocket-Key").count == 1,
            let decoded = Data(base64Encoded: key), decoded.count == 16
        else {
            return .refuse(
                .badKey,
                .error(400, "Bad Request", "Sec-WebSocket-Key must be 16 random bytes in base64.")
            )
        }
        if !policy.allowedOrigins.contains("*"), let origin = head.first("Origin") {
            let allowed = policy.allowedOrigins.contains { $0.caseInsensitiveEquals(origin) }
            if !allowed {
                return .refuse(
                    .originNotAllowed,
                    .error(403, "Forbidden", "Origin \(origin) is not allowed for this endpoint.")
                )
            }
        }
        let offered = head.list("Sec-WebSocket-Protocol")
        let subprotocol = policy.subprotocols.first { offered.contains($0) }
        return .accept(acceptKey: acceptKey(for: key), subprotocol: subprotocol)
    }

    /// The 101 response that completes an accepted handshake.
    package static func switchingProtocols(acceptKey: String, subprotocol: String?, extensions: String?)
        -> HTTPResponse
    {
        var headers = [
            HTTPHeaderField("Server", "wsgate"),
            HTTPHeaderField("Upgrade", "websocket"),
            HTTPHeaderField("Connection", "Upgrade"),
            HTTPHeaderField("Sec-WebSocket-Accept", acceptKey),
        ]
        if let subprotocol { headers.append(HTTPHeaderField("Sec-WebSocket-Protocol", subprotocol)) }
        if let extensions { headers.append(HTTPHeaderField("Sec-WebSocket-Extensions", extensions)) }
        return HTTPResponse(status: 101, reason: "Switching Protocols", headers: headers)
    }
}
