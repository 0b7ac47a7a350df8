import Foundation
import Yams

/// `auth:` of `defaults:` and each endpoint, and the checks that need the whole endpoint.
extension ConfigLoader {
    /// `auth: null` gives `.some(nil)`; an invalid mapping gives nil (with errors reported).
    static func readAuth(_ node: Node, _ name: String, reader: inout NodeReader) -> AuthSettings?? {
        if NodeReader.isNull(node) { return .some(nil) }
        guard let entries = reader.mapping(node, name, known: ConfigReference.auth.map(\.name)) else { return nil }
        guard entries.count == 1, let (method, _, value) = entries.first else {
            reader.error(
                node, "\(name) needs exactly one method, jwt or webhook",
                hint: "write 'jwt: { secret: ${JWT_SECRET} }', 'webhook: https://auth.internal/check', or 'auth: null'")
            return nil
        }
        if method == "webhook" {
            return readWebhook(value, "\(name).webhook", reader: &reader).map { .some(.webhook($0)) }
        }
        return readJWT(value, "\(name).jwt", reader: &reader).map { .some(.jwt($0)) }
    }

    static func readWebhook(_ node: Node, _ name: String, reader: inout NodeReader) -> WebhookSettings? {
        func url(_ value: Node, _ qualified: String) -> String? {
            guard let text = reader.string(value, qualified) else { return nil }
            guard text.hasPrefix("http://") || text.hasPrefix("https://"), text.count > 8 else {
                reader.error(value, "\(qualified) must be an http:// or https:// URL, not '\(text)'")
                return nil
            }
            return text
        }
        if case .scalar = node { return url(node, name).map(WebhookSettings.init(url:)) }
        guard let entries = reader.mapping(node, name, known: ConfigReference.webhook.map(\.name)) else { return nil }
        var settings = WebhookSettings(url: "")
        var valid = true
        for (key, _, value) in entries {
            let qualified = "\(name).\(key)"
            switch key {
            case "url":
                if let v = url(value, qualified) { settings.url = v } else { valid = false }
            case "timeout":
                if let v = reader.duration(value, qualified), v > .zero { settings.timeout = v } else { valid = false }
            case "max_concurrent":
                if let v = reader.integer(value, qualified, range: 1...100_000) {
                    settings.maxConcurrent = v
                } else {
                    valid = false
                }
            case "headers":
                if let v = reader.stringList(value, qualified) { settings.headers = v } else { valid = false }
            default:
                break
            }
        }
        if !entries.contains(where: { $0.key == "url" }) {
            reader.error(node, "\(name) has no 'url'", hint: "add e.g. 'url: https://auth.internal/check'")
            return nil
        }
        return valid ? settings : nil
    }

    static func readJWT(_ node: Node, _ name: String, reader: inout NodeReader) -> JWTSettings? {
        guard let entries = reader.mapping(node, name, known: ConfigReference.jwt.map(\.name)) else { return nil }
        var keys: [JWTSettings.Key] = []
        var caFile: String?
        var settings = JWTSettings(key: .secret(""))
        var valid = true
        for (key, _, value) in entries {
            let qualified = "\(name).\(key)"
            switch key {
            case "secret":
                guard let text = reader.string(value, qualified) else {
                    valid = false
                    continue
                }
                // jwt-kit wants an HMAC key at least as long as the hash output (32 bytes for HS256).
                if text.utf8.count < 32 {
                    reader.error(
                        value, "\(qualified) is \(text.utf8.count) bytes; an HMAC secret this short can be guessed",
                        hint:
                            "use at least 32 bytes, e.g. secret: ${JWT_SECRET} with JWT_SECRET=$(openssl rand -hex 32)")
                    valid = false
                }
                keys.append(.secret(text))
            case "public_key":
                guard let text = reader.string(value, qualified) else {
                    valid = false
                    continue
                }
                let path = resolve(text, against: reader.baseDirectory)
                guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                    reader.error(
                        value, "\(qualified): cannot read '\(path)'",
                        hint: "give the path of a PEM public key (relative paths start from the config file's folder)")
                    valid = false
                    continue
                }
                guard pem.contains("-----BEGIN PUBLIC KEY-----") else {
                    reader.error(
                        value, "\(qualified): '\(path)' holds no PEM public key",
                        hint: "export it with `openssl pkey -in key.pem -pubout` (a -----BEGIN PUBLIC KEY----- block)")
                    valid = false
                    continue
                }
                keys.append(.publicKey(path: text, pem: pem))
            case "jwks":
                guard let text = reader.string(value, qualified) else {
                    valid = false
                    continue
                }
                if text.hasPrefix("https://") || text.hasPrefix("http://") {
                    keys.append(.jwks(source: text, caFile: nil))
                } else {
                    let path = resolve(text, against: reader.baseDirectory)
                    guard FileManager.default.isReadableFile(atPath: path) else {
                        reader.error(
                            value, "\(qualified): cannot read '\(path)'",
                            hint: "give an https:// URL or the path of a JWKS file (relative to the config file)")
                        valid = false
                        continue
                    }
                    keys.append(.jwks(source: path, caFile: nil))
                }
            case "jwks_ca":
                guard let text = reader.string(value, qualified) else {
                    valid = false
                    continue
                }
                let path = resolve(text, against: reader.baseDirectory)
                if FileManager.default.isReadableFile(atPath: path) {
                    caFile = path
                } else {
                    reader.error(
                        value, "\(qualified): cannot read '\(path)'",
                        hint: "give the PEM file of the CA that signed the JWKS server's certificate")
                    valid = false
                }
            case "issuer":
                if let v = reader.string(value, qualified) { settings.issuer = v } else { valid = false }
            case "audience":
                if let v = reader.string(value, qualified) { settings.audience = v } else { valid = false }
            case "leeway":
                if let v = reader.duration(value, qualified) { settings.leeway = v } else { valid = false }
            case "rooms_claim":
                if let v = reader.string(value, qualified) { settings.roomsClaim = v } else { valid = false }
            case "token_from":
                guard let list = reader.stringList(value, qualified) else {
                    valid = false
                    continue
                }
                var sources: [JWTSettings.TokenSource] = []
                for item in list {
                    guard let source = JWTSettings.TokenSource(parsing: item) else {
                        reader.error(
                            value, "\(qualified): '\(item)' is not a token source",
                            hint: "use query:NAME, header:NAME, cookie:NAME or subprotocol")
                        valid = false
                        continue
                    }
                    sources.append(source)
                }
                if list.isEmpty {
                    reader.error(
                        value, "\(qualified) is empty, so no token could be found",
                        hint: "e.g. [query:token, header:Authorization]")
                    valid = false
                }
                settings.tokenFrom = sources
            default:
                break
            }
        }
        let written = entries.filter { ["secret", "public_key", "jwks"].contains($0.key) }.count
        guard written == 1 else {
            reader.error(
                node, "\(name) needs exactly one of secret, public_key or jwks",
                hint:
                    "secret: ${JWT_SECRET} for HS256/384/512, public_key: key.pem for RS*, PS*, ES*, EdDSA, or jwks: https://…/jwks.json"
            )
            return nil
        }
        guard var key = keys.first else { return nil }
        if let caFile {
            guard case .jwks(let source, _) = key, source.hasPrefix("https://") else {
                reader.error(node, "\(name).jwks_ca applies to an https:// jwks URL only", hint: "remove jwks_ca")
                return nil
            }
            key = .jwks(source: source, caFile: caFile)
        }
        settings.key = key
        return valid ? settings : nil
    }

    /// Checks that need the endpoint's other settings: a token read from a cookie needs an origin
    /// allow-list, since a browser sends the cookie with a cross-site request too (cross-site WebSocket
    /// hijacking); `rooms_claim` means something only where there are rooms.
    static func checkAuth(
        _ settings: EndpointSettings, type: String, at node: Node, _ path: String, reader: inout NodeReader
    ) {
        if let claim = settings.auth?.jwt?.roomsClaim, type != "broadcast" {
            reader.warning(
                node, "\(path) (type: \(type)) has no rooms: rooms_claim '\(claim)' is not checked here",
                hint: "set rooms_claim on broadcast endpoints only (or give this endpoint 'auth:' without it)")
        }
        let readsCookies =
            settings.auth?.jwt?.readsCookies == true
            || settings.auth?.webhook?.headers.contains { $0.lowercased() == "cookie" } == true
        guard readsCookies, settings.allowedOrigins.contains("*") else { return }
        reader.error(
            node,
            "\(path) reads its token from a cookie but allows any origin: any web site could open a session "
                + "with a visitor's cookie (cross-site WebSocket hijacking)",
            hint: "list the sites that may connect in allowed_origins, e.g. [\"https://app.example.com\"]")
    }
}
