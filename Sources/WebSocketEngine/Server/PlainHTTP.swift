/// A plain HTTP request to a route added with ``WebSocketRouter/get(_:handler:)``.
public struct PlainHTTPRequest: Sendable {
    /// `GET` or `HEAD`.
    public let method: String
    /// The path, without the query.
    public let path: String
    /// The query, without the `?` (empty when absent).
    public let query: String
    /// Header fields in arrival order.
    public let headers: [(name: String, value: String)]

    /// The first value of a header (names compare case-insensitively).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// The answer to a ``PlainHTTPRequest``. The connection closes after it (no HTTP keep-alive).
public struct PlainHTTPResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body.
    public var body: [UInt8]
    /// More header fields, such as `Cache-Control`.
    public var headers: [String: String]

    /// Creates a response with a byte body.
    public init(status: Int = 200, contentType: String, body: [UInt8], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    /// Creates a response with a text body (UTF-8).
    public init(status: Int = 200, contentType: String, text: String, headers: [String: String] = [:]) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8), headers: headers)
    }
}

/// Answers a plain HTTP request, synchronously on the connection's event loop: keep it short (render a
/// page, read counters).
public typealias PlainHTTPHandler = @Sendable (PlainHTTPRequest) -> PlainHTTPResponse
