import Foundation

/// The handshake request that opened a session.
public struct WebSocketRequest: Sendable {
    /// The request path, without the query.
    public let path: String
    /// The raw query string, without `?`; empty when absent.
    public let query: String
    /// The request's header fields in order (empty in sessions of a route that does not keep them:
    /// ``WebSocketRouter/webSocket(_:options:allowedOrigins:subprotocols:admission:asyncAdmission:keepsRequestHeaders:onLoop:)``).
    public internal(set) var headers: [(name: String, value: String)]
    /// Values of the route's `{name}` parameters, percent-decoded.
    public let pathParameters: [String: String]
    /// The client's IP address, when known.
    public let remoteAddress: String?
    /// The client's port, when known.
    public let remotePort: Int?
    /// The subprotocol the server selected, if any.
    public internal(set) var subprotocol: String?
    /// What the route's admission granted (``AdmissionGrant/value``; the asynchronous check's, when both
    /// granted one), if anything.
    public internal(set) var admitted: (any Sendable)?
    /// On a client session, the header fields of the server's 101 response in order; empty on the server side.
    public internal(set) var responseHeaders: [(name: String, value: String)] = []

    /// The first value of a header (names compare case-insensitively).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// The query parameters, percent-decoded; the last value wins for repeated names.
    public var queryParameters: [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).replacingOccurrences(of: "+", with: " ")
            let value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            result[name.removingPercentEncoding ?? name] = value.removingPercentEncoding ?? value
        }
        return result
    }

    /// Takes what `grant` says about the request (its value, a replacement subprotocol); returns the header
    /// fields it adds to the 101.
    mutating func apply(_ grant: AdmissionGrant) -> [HTTPHeaderField] {
        if let chosen = grant.subprotocol { subprotocol = chosen }
        admitted = grant.value
        return grant.headers.map { HTTPHeaderField($0.name, $0.value) }
    }
}
