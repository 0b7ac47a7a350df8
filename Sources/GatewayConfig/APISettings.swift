/// `server.api`: the backend's HTTP API (publish to a room, list rooms, disconnect sessions), behind a
/// bearer key, on the gateway's listener or its own.
public struct APISettings: Sendable, Equatable {
    /// `path`: the prefix of the API's routes (`/api/publish`, …). Default `/api`.
    public var path: String = "/api"
    /// `key`: the bearer key every request must carry (`Authorization: Bearer …`); usually
    /// `${WSGATE_API_KEY}`. Required, at least 16 bytes.
    public var key: String
    /// `listen`: the API's own address and port (e.g. 127.0.0.1 or an internal network, off the public
    /// port); nil: the API answers under `path` on the gateway's own listener.
    public var listen: ListenAddress?
    /// `max_body`: the largest request body; a larger one gets 413. Default 1 MiB.
    public var maxBody: Int = 1 << 20

    /// Settings with `key`, `listen` and every other key at its default.
    public init(key: String, listen: ListenAddress? = nil) {
        self.key = key
        self.listen = listen
    }
}
