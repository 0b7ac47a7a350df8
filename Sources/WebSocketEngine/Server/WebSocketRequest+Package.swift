extension WebSocketRequest {
    /// A request made by hand: a client session's own, or a test's.
    package static func make(
        path: String, query: String, headers: [(name: String, value: String)], pathParameters: [String: String] = [:],
        remoteAddress: String?, remotePort: Int?, subprotocol: String? = nil
    ) -> WebSocketRequest {
        WebSocketRequest(
            path: path, query: query, headers: headers, pathParameters: pathParameters, remoteAddress: remoteAddress,
            remotePort: remotePort, subprotocol: subprotocol)
    }
}
