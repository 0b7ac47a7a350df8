/// Whether a connection stays open after a plain HTTP response (RFC 9112 §9.3): the rules of persistent
/// connections, with the server's own bounds, as a value with no sockets and no clocks.
///
/// HTTP/1.1 keeps the connection unless the request says `Connection: close`; HTTP/1.0 closes it
/// unless the request says `Connection: keep-alive`. A request with a body (`Content-Length` above 0
/// or any `Transfer-Encoding`) closes it unless a body route read the body: other plain routes never
/// read bodies, so the next request's start could not be found. After `maxRequests` responses, or while the server drains, it closes too.
package struct HTTPKeepAlive: Sendable, Equatable {
    /// What the connection does once a response is written.
    package enum Decision: Sendable, Equatable {
        /// Wait for the next request (at most the idle timeout).
        case keepOpen
        /// Close after the response.
        case close
    }

    /// Most responses on one connection.
    package let maxRequests: Int
    /// Responses decided so far.
    package private(set) var served = 0

    /// A connection that will answer at most `maxRequests` plain requests.
    package init(maxRequests: Int) {
        self.maxRequests = max(1, maxRequests)
    }

    /// Decides for one request whether its response leaves the connection open, and counts it.
    /// `bodyRead`: the request's `Content-Length` body was read (a body route), so a body does not
    /// stand in the way.
    package mutating func decide(for head: HTTPRequestHead, draining: Bool, bodyRead: Bool = false) -> Decision {
        served += 1
        if draining || served >= maxRequests { return .close }
        return Self.requestAllowsKeepAlive(head, bodyRead: bodyRead) ? .keepOpen : .close
    }

    /// Whether the request itself allows the connection to stay open (its version, `Connection`
    /// header and body framing).
    package static func requestAllowsKeepAlive(_ head: HTTPRequestHead, bodyRead: Bool = false) -> Bool {
        guard head.version.major == 1 else { return false }
        if !head.values("Transfer-Encoding").isEmpty { return false }
        for length in head.values("Content-Length") where !bodyRead && length.trimmingHTTPWhitespace() != "0" {
            return false
        }
        let connection = head.tokens("Connection")
        if connection.contains("close") { return false }
        return head.version.minor >= 1 || connection.contains("keep-alive")
    }

    /// The `Connection` header a response carries for `decision` to a request of `version`: `close`
    /// when closing, `keep-alive` for an HTTP/1.0 client that stays (1.1 keeps by default: none).
    package static func connectionHeader(_ decision: Decision, version: (major: Int, minor: Int)) -> String? {
        switch decision {
        case .close: return "close"
        case .keepOpen: return version.major == 1 && version.minor == 0 ? "keep-alive" : nil
        }
    }
}
