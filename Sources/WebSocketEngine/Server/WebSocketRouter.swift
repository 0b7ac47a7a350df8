/// A session handler: runs for the life of one connection. When it returns, the session closes with
/// 1000; when it throws, with 1011.
public typealias WebSocketHandler = @Sendable (WebSocketSession) async throws -> Void

/// What a session driven on its event loop does (``WebSocketRouter/webSocket(_:options:allowedOrigins:subprotocols:admission:asyncAdmission:onLoop:)``):
/// no task and no `incoming` sequence are made for it, so an idle session costs only its connection.
/// Both closures run on the session's event loop and must not block it.
public struct WebSocketLoopCallbacks: Sendable {
    /// Each message (`.text` or `.binary`), as it is read. Reading pauses while the connection's outbound
    /// buffer is over `maxQueuedBytes`, so a peer that does not read its answers stops being read.
    public var onMessage: @Sendable (Frame) -> Void
    /// Once, when the connection has closed, with the close reason.
    public var onClose: @Sendable (CloseReason) -> Void

    /// Callbacks for messages and the end of the session.
    public init(
        onMessage: @escaping @Sendable (Frame) -> Void,
        onClose: @escaping @Sendable (CloseReason) -> Void = { _ in }
    ) {
        self.onMessage = onMessage
        self.onClose = onClose
    }
}

/// Starts a session driven on its event loop: called there once the 101 is written, before any
/// message; returns what the session does with its messages and its end. Send with
/// `WebSocketSession.sendOnLoop` and close with `WebSocketSession.closeOnLoop` from the callbacks.
public typealias WebSocketLoopHandler = @Sendable (WebSocketSession) -> WebSocketLoopCallbacks

/// A route's decision, made before the handshake is answered: accept, or refuse with an HTTP error.
public enum Admission: Sendable {
    /// Answer 101 and start the session.
    case accept
    /// Answer 101 and start the session with what the check found (see ``AdmissionGrant``).
    case grant(AdmissionGrant)
    /// Answer with an HTTP error and close.
    case refuse(AdmissionRefusal)

    /// Refuses with `status` and a plain-text `message`, counted as `not_admitted`.
    public static func refuse(status: Int, message: String) -> Admission {
        .refuse(AdmissionRefusal(status: status, message: message))
    }
}

/// What an admission check hands to the session it admits.
public struct AdmissionGrant: Sendable {
    /// Travels to the session as ``WebSocketRequest/admitted`` (claims of a token, an upstream session).
    public var value: (any Sendable)?
    /// Replaces the subprotocol the handshake selected (`.some(nil)`: none); nil keeps it.
    public var subprotocol: String??
    /// Extra header fields for the 101 response.
    public var headers: [(name: String, value: String)]
    /// Called when the grant is not used because the client went away while the check ran: release
    /// what `value` holds.
    public var abandoned: (@Sendable () -> Void)?

    /// A grant; every part is optional.
    public init(
        value: (any Sendable)? = nil,
        subprotocol: String?? = nil,
        headers: [(name: String, value: String)] = [],
        abandoned: (@Sendable () -> Void)? = nil
    ) {
        self.value = value
        self.subprotocol = subprotocol
        self.headers = headers
        self.abandoned = abandoned
    }
}

/// An HTTP refusal of an upgrade request.
public struct AdmissionRefusal: Sendable {
    /// The HTTP status (4xx or 5xx).
    public var status: Int
    /// A plain-text body: what happened and what to do.
    public var message: String
    /// Extra header fields (`WWW-Authenticate`, `Retry-After`).
    public var headers: [(name: String, value: String)]
    /// The `reason` label of `wsgate_handshakes_refused_total` (a fixed word: it is a metric dimension).
    public var reason: String

    /// A refusal; `reason` defaults to `not_admitted`.
    public init(
        status: Int, message: String, headers: [(name: String, value: String)] = [], reason: String = "not_admitted"
    ) {
        self.status = status
        self.message = message
        self.headers = headers
        self.reason = reason
    }
}

/// Decides, synchronously and before the 101, whether a request may open a session (a slot limit,
/// a resource that must exist, a number in handshake order). A route that admits a request is told
/// again through its handler, which always runs after an accepted handshake. A `.grant`'s value is
/// the request's ``WebSocketRequest/admitted`` for the asynchronous check (which may replace it) and
/// the session; its headers go on the 101.
public typealias WebSocketAdmission = @Sendable (WebSocketRequest) -> Admission

/// Decides asynchronously, after ``WebSocketAdmission`` accepted and before the 101, whether a request
/// may open a session: a token check that fetches keys, a webhook, a connection to an upstream. The
/// connection reads nothing meanwhile; a client that goes away meanwhile gets nothing and the grant's
/// ``AdmissionGrant/abandoned`` runs.
public typealias WebSocketAsyncAdmission = @Sendable (WebSocketRequest) async -> Admission

/// The routes of a server: `webSocket("/path") { session in … }`, as in Ktor's routing block.
public struct WebSocketRouter: Sendable {
    /// One endpoint.
    public struct Route: Sendable {
        /// The path template it answers.
        public let path: PathTemplate
        /// Protocol settings for its sessions.
        public let options: WebSocketOptions
        /// Exact origins allowed (`["*"]`: any).
        public let allowedOrigins: [String]
        /// Subprotocols in preference order.
        public let subprotocols: [String]
        let admission: WebSocketAdmission?
        let asyncAdmission: WebSocketAsyncAdmission?
        let serving: Serving
        /// `options`, referenced by every open session of the route.
        let sharedOptions: SharedOptions
    }

    /// How a route's sessions are served.
    package enum Serving: Sendable {
        /// By a task running the handler over `incoming`.
        case task(WebSocketHandler)
        /// By callbacks on the event loop; `keepsHeaders: false`: the session's `request.headers` is empty
        /// (the admission checks saw them), so an idle session holds no copy of them.
        case loop(WebSocketLoopHandler, keepsHeaders: Bool)
    }

    /// Why a route could not be added.
    public struct RouteError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong and what to write instead.
        public let description: String
    }

    private var literalRoutes: [String: Route] = [:]
    private var templateRoutes: [Route] = []
    private var plainRoutes: [String: PlainHTTPHandler] = [:]
    private var treeRoutes: [String: PlainHTTPHandler] = [:]
    private var bodyRoutes: [String: BodyRoute] = [:]

    /// A route that reads request bodies (``handle(under:maxBodySize:handler:)``).
    package struct BodyRoute: Sendable {
        package let maxBodySize: Int
        package let handler: PlainHTTPBodyHandler
    }

    /// An empty router.
    public init() {}

    /// All routes, literal paths first.
    public var routes: [Route] {
        literalRoutes.values.sorted { $0.path.description < $1.path.description } + templateRoutes
    }

    /// Adds a WebSocket endpoint at `path` (literal, or a template such as `/chat/{room}`); `admission`,
    /// when given, may refuse a request with an HTTP error before the handshake is answered;
    /// `asyncAdmission`, when given, runs after it and may also grant the session a value.
    public mutating func webSocket(
        _ path: String,
        options: WebSocketOptions = WebSocketOptions(),
        allowedOrigins: [String] = ["*"],
        subprotocols: [String] = [],
        admission: WebSocketAdmission? = nil,
        asyncAdmission: WebSocketAsyncAdmission? = nil,
        handler: @escaping WebSocketHandler
    ) throws(RouteError) {
        try add(
            path, options: options, allowedOrigins: allowedOrigins, subprotocols: subprotocols, admission: admission,
            asyncAdmission: asyncAdmission, serving: .task(handler))
    }

    /// Adds a WebSocket endpoint whose sessions are driven by callbacks on their event loop instead of a
    /// task (``WebSocketLoopCallbacks``): for handlers whose work per message is short and never waits, such as
    /// an echo or a fan-out; an idle session then holds no task and no message sequence.
    ///
    /// With `keepsRequestHeaders: false` the sessions' ``WebSocketRequest/headers`` are empty (the admission
    /// checks still see every field): a handler that needs no header after the handshake saves their copy,
    /// a few hundred bytes to over a kilobyte per connection for a browser's request.
    public mutating func webSocket(
        _ path: String,
        options: WebSocketOptions = WebSocketOptions(),
        allowedOrigins: [String] = ["*"],
        subprotocols: [String] = [],
        admission: WebSocketAdmission? = nil,
        asyncAdmission: WebSocketAsyncAdmission? = nil,
        keepsRequestHeaders: Bool = true,
        onLoop: @escaping WebSocketLoopHandler
    ) throws(RouteError) {
        try add(
            path, options: options, allowedOrigins: allowedOrigins, subprotocols: subprotocols, admission: admission,
            asyncAdmission: asyncAdmission, serving: .loop(onLoop, keepsHeaders: keepsRequestHeaders))
    }

    /// Adds a WebSocket endpoint served either way (for callers that choose per endpoint).
    package mutating func add(
        _ path: String,
        options: WebSocketOptions,
        allowedOrigins: [String],
        subprotocols: [String],
        admission: WebSocketAdmission?,
        asyncAdmission: WebSocketAsyncAdmission?,
        serving: Serving
    ) throws(RouteError) {
        let template: PathTemplate
        do {
            template = try PathTemplate(path)
        } catch {
            throw RouteError(description: error.description)
        }
        if routes.contains(where: { $0.path == template }) || plainRoutes[path] != nil {
            throw RouteError(description: "path '\(path)' is routed twice; give each endpoint its own path")
        }
        let route = Route(
            path: template,
            options: options,
            allowedOrigins: allowedOrigins,
            subprotocols: subprotocols,
            admission: admission,
            asyncAdmission: asyncAdmission,
            serving: serving,
            sharedOptions: SharedOptions(options)
        )
        if template.isLiteral {
            literalRoutes[path] = route
        } else {
            templateRoutes.append(route)
        }
    }

    /// Adds a plain HTTP route answering `GET` and `HEAD` at the literal `path` (health checks, metrics, a
    /// page). Its path must not be a WebSocket route's too.
    public mutating func get(_ path: String, handler: @escaping PlainHTTPHandler) throws(RouteError) {
        guard path.hasPrefix("/"), !path.contains("?") else {
            throw RouteError(description: "HTTP path '\(path)' must start with '/' and have no query")
        }
        if plainRoutes[path] != nil || route(for: path) != nil {
            throw RouteError(description: "path '\(path)' is routed twice; give each route its own path")
        }
        plainRoutes[path] = handler
    }

    /// Adds a plain HTTP route answering `GET` and `HEAD` at `prefix` and every path below it: `/static`
    /// answers `/static` and `/static/…` (not `/statics`), `/` answers every path (a directory of files).
    /// A WebSocket route may have a path under it, the same path included: upgrade requests (those with an
    /// `Upgrade` header) go to the WebSocket route, the others here. Literal plain routes (``get(_:handler:)``)
    /// win; of two trees, the longer prefix.
    public mutating func get(under prefix: String, handler: @escaping PlainHTTPHandler) throws(RouteError) {
        guard prefix.hasPrefix("/"), !prefix.contains("?"), !prefix.contains("{") else {
            throw RouteError(description: "HTTP path '\(prefix)' must start with '/' and have no query or template")
        }
        let key = Self.treeKey(prefix)
        if treeRoutes[key] != nil {
            throw RouteError(description: "path '\(prefix)' serves two trees; give each its own path")
        }
        treeRoutes[key] = handler
    }

    /// The paths of the plain HTTP routes, sorted.
    public var plainPaths: [String] { plainRoutes.keys.sorted() }

    /// The prefixes of the plain HTTP trees (``get(under:handler:)``), sorted.
    public var treePaths: [String] { treeRoutes.keys.sorted() }

    /// Adds an HTTP route of any method at `prefix` and every path below it, whose requests carry a body
    /// of at most `maxBodySize` bytes (`Content-Length`; a larger one gets 413, a chunked one 411). The
    /// handler runs asynchronously; nothing more is read from the connection until it answers. Upgrade
    /// requests still go to WebSocket routes.
    public mutating func handle(
        under prefix: String, maxBodySize: Int, handler: @escaping PlainHTTPBodyHandler
    ) throws(RouteError) {
        guard prefix.hasPrefix("/"), !prefix.contains("?"), !prefix.contains("{") else {
            throw RouteError(description: "HTTP path '\(prefix)' must start with '/' and have no query or template")
        }
        let key = Self.treeKey(prefix)
        if bodyRoutes[key] != nil || treeRoutes[key] != nil || plainRoutes[prefix] != nil {
            throw RouteError(description: "path '\(prefix)' is routed twice; give each route its own path")
        }
        bodyRoutes[key] = BodyRoute(maxBodySize: max(0, maxBodySize), handler: handler)
    }

    /// The body route whose prefix is the longest that `path` is under.
    package func bodyRoute(for path: String) -> BodyRoute? {
        guard !bodyRoutes.isEmpty else { return nil }
        var candidate = Self.treeKey(path)
        while true {
            if let route = bodyRoutes[candidate] { return route }
            guard candidate != "/", let slash = candidate.lastIndex(of: "/") else { return nil }
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
        }
    }

    /// The plain HTTP handler for a request path.
    func plainRoute(for path: String) -> PlainHTTPHandler? {
        plainRoutes[path]
    }

    /// The tree whose prefix is the longest that holds `path`.
    package func treeRoute(for path: String) -> PlainHTTPHandler? {
        guard !treeRoutes.isEmpty else { return nil }
        var candidate = Self.treeKey(path)
        while true {
            if let handler = treeRoutes[candidate] { return handler }
            guard candidate != "/", let slash = candidate.lastIndex(of: "/") else { return nil }
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
        }
    }

    /// A prefix without its trailing slashes (`/` stays `/`).
    private static func treeKey(_ path: String) -> String {
        var key = Substring(path)
        while key.count > 1 && key.hasSuffix("/") { key = key.dropLast() }
        return String(key)
    }

    /// The route for a request path and its parameter values: a literal path wins, then templates in order.
    func route(for path: String) -> (Route, [String: String])? {
        if let route = literalRoutes[path] { return (route, [:]) }
        for route in templateRoutes {
            if let values = route.path.match(path) { return (route, values) }
        }
        return nil
    }
}
