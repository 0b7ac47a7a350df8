/// `auth:` of an endpoint (or of `defaults:`): who may open a session. Nil (the default, or `auth: null`)
/// lets anyone who passes the origin check in.
public enum AuthSettings: Sendable, Equatable {
    /// `jwt: {…}`: a signed token, checked before the upgrade.
    case jwt(JWTSettings)
    /// `webhook: URL` or `webhook: {…}`: the backend decides, like nginx's `auth_request`.
    case webhook(WebhookSettings)

    /// The JWT settings, when the method is `jwt`.
    public var jwt: JWTSettings? {
        if case .jwt(let settings) = self { return settings }
        return nil
    }

    /// The webhook settings, when the method is `webhook`.
    public var webhook: WebhookSettings? {
        if case .webhook(let settings) = self { return settings }
        return nil
    }
}

/// `auth.webhook`: before upgrading, wsgate POSTs the request's method, path, query, allow-listed headers
/// and peer address as JSON to `url`. 2xx admits (a JSON body may set `name`, `rooms` and `claims`),
/// 401/403 refuse with that status, anything else or a timeout refuses with 503 (fail closed).
public struct WebhookSettings: Sendable, Equatable {
    /// `url`: `http://` or `https://`. Required.
    public var url: String
    /// `timeout`: how long the backend has to answer. Default 2s.
    public var timeout: Duration = .seconds(2)
    /// `max_concurrent`: checks in flight at once; beyond it 503 at once. Default 64.
    public var maxConcurrent: Int = 64
    /// `headers`: request headers forwarded to the backend. Default `Authorization`, `Origin`,
    /// `Sec-WebSocket-Protocol`, `User-Agent`. Adding `Cookie` needs an origin allow-list.
    public var headers: [String] = ["Authorization", "Origin", "Sec-WebSocket-Protocol", "User-Agent"]

    /// Settings with `url` and every other key at its default.
    public init(url: String) {
        self.url = url
    }
}

/// `auth.jwt`: how a token is found and checked.
public struct JWTSettings: Sendable, Equatable {
    /// Where a token may come from, tried in order.
    public enum TokenSource: Sendable, Equatable, CustomStringConvertible {
        /// `query:NAME`: the query parameter NAME.
        case query(String)
        /// `header:NAME`: the header NAME; for `Authorization` the `Bearer ` scheme is required.
        case header(String)
        /// `cookie:NAME`: the cookie NAME (needs an origin allow-list: cross-site WebSocket hijacking).
        case cookie(String)
        /// `subprotocol`: an offered subprotocol `base64url.bearer.<token>` (as Kubernetes does).
        case subprotocol

        /// Parses `query:token`, `header:Authorization`, `cookie:NAME` or `subprotocol`.
        public init?(parsing text: String) {
            if text == "subprotocol" {
                self = .subprotocol
                return
            }
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[1].isEmpty, !parts[1].contains(where: \.isWhitespace) else { return nil }
            let name = String(parts[1])
            switch parts[0] {
            case "query": self = .query(name)
            case "header": self = .header(name)
            case "cookie": self = .cookie(name)
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .query(let name): return "query:\(name)"
            case .header(let name): return "header:\(name)"
            case .cookie(let name): return "cookie:\(name)"
            case .subprotocol: return "subprotocol"
            }
        }
    }

    /// The key that verifies signatures.
    public enum Key: Sendable, Equatable {
        /// `secret`: a shared secret for HS256, HS384 and HS512.
        case secret(String)
        /// `public_key`: a PEM public key (RSA: RS*/PS*; EC P-256/384/521: ES256/384/512; Ed25519: EdDSA);
        /// `path` as written, `pem` the file's text read when the configuration was loaded.
        case publicKey(path: String, pem: String)
        /// `jwks`: a JSON Web Key Set, from a file (resolved against the config file's folder) or an
        /// http(s) URL; `caFile` (`jwks_ca`) holds the roots that a URL's certificate must chain to
        /// (default: the system's).
        case jwks(source: String, caFile: String?)
    }

    /// The verifying key. Required (exactly one of `secret`, `public_key` or `jwks`).
    public var key: Key
    /// `issuer`: the `iss` a token must carry; nil (the default) accepts any.
    public var issuer: String?
    /// `audience`: a value the token's `aud` must hold; nil (the default) accepts any.
    public var audience: String?
    /// `leeway`: clock skew allowed for `exp` and `nbf`. Default 0.
    public var leeway: Duration = .zero
    /// `token_from`. Default `[query:token, header:Authorization]`.
    public var tokenFrom: [TokenSource] = JWTSettings.defaultTokenFrom
    /// `rooms_claim`: the claim listing the rooms a token may join (`"*"`, `"team-*"`); nil (the default)
    /// lets a valid token join any room.
    public var roomsClaim: String?

    /// The default `token_from`.
    public static let defaultTokenFrom: [TokenSource] = [.query("token"), .header("Authorization")]

    /// Settings with `key` and every other key at its default.
    public init(key: Key) {
        self.key = key
    }

    /// Whether a token may come from a cookie (which only an origin allow-list makes safe).
    public var readsCookies: Bool {
        tokenFrom.contains { if case .cookie = $0 { true } else { false } }
    }
}
