/// A plain HTTP request to a route added with ``WebSocketRouter/get(_:handler:)`` or
/// ``WebSocketRouter/handle(under:maxBodySize:handler:)``.
public struct PlainHTTPRequest: Sendable {
    /// `GET` or `HEAD` (any method for ``WebSocketRouter/handle(under:maxBodySize:handler:)``).
    public let method: String
    /// The path, without the query.
    public let path: String
    /// The query, without the `?` (empty when absent).
    public let query: String
    /// Header fields in arrival order.
    public let headers: [(name: String, value: String)]
    /// The body (`Content-Length` bytes) of a request to a route added with
    /// ``WebSocketRouter/handle(under:maxBodySize:handler:)``; empty for other routes.
    public let body: [UInt8]

    /// A request as the engine hands it to a route (also for testing a handler without a socket).
    public init(
        method: String, path: String, query: String, headers: [(name: String, value: String)], body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of a header (names compare case-insensitively).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// The answer to a ``PlainHTTPRequest``. The connection stays open for the client's next request
/// (HTTP/1.1 keep-alive) unless the request asked otherwise.
public struct PlainHTTPResponse: Sendable, Equatable {
    /// The status code.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body.
    public var body: [UInt8]
    /// More header fields, such as `Cache-Control`.
    public var headers: [String: String]
    /// A file sent as the body instead of `body`, read in chunks as the client takes them (never whole
    /// into memory). `HEAD` sends its length only.
    public var file: PlainHTTPFile?

    /// Creates a response with a byte body.
    public init(status: Int = 200, contentType: String, body: [UInt8], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
        self.file = nil
    }

    /// Creates a response whose body is an open file.
    public init(status: Int = 200, contentType: String, file: PlainHTTPFile, headers: [String: String] = [:]) {
        self.init(status: status, contentType: contentType, body: [], headers: headers)
        self.file = file
    }

    /// The length of the body: the file's, else the bytes'.
    public var contentLength: Int { file?.length ?? body.count }

    /// Creates a response with a text body (UTF-8).
    public init(status: Int = 200, contentType: String, text: String, headers: [String: String] = [:]) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8), headers: headers)
    }
}

/// Answers a plain HTTP request, synchronously on the connection's event loop: keep it short (render a
/// page, read counters).
public typealias PlainHTTPHandler = @Sendable (PlainHTTPRequest) -> PlainHTTPResponse

/// Answers a plain HTTP request of any method, with its body, asynchronously (an API).
public typealias PlainHTTPBodyHandler = @Sendable (PlainHTTPRequest) async -> PlainHTTPResponse

/// An open file a ``PlainHTTPResponse`` sends as its body. It owns its descriptor and closes it when the
/// last reference goes, whether the body was sent or not.
public final class PlainHTTPFile: Sendable, Equatable {
    /// The open descriptor, read with `pread` (its offset is never moved).
    package let descriptor: Int32
    /// The bytes to send, from offset 0: the file's size when it was opened (a file that shrinks
    /// meanwhile closes the connection rather than sending fewer bytes than announced).
    public let length: Int

    /// Takes ownership of `descriptor`, a file open for reading, of which `length` bytes are sent.
    public init(takingDescriptor descriptor: Int32, length: Int) {
        self.descriptor = descriptor
        self.length = max(0, length)
    }

    deinit {
        closeDescriptor(descriptor)
    }

    public static func == (lhs: PlainHTTPFile, rhs: PlainHTTPFile) -> Bool { lhs === rhs }
}
