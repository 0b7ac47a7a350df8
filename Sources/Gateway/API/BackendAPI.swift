import Foundation
import GatewayConfig
import NIOCore
import WebSocketEngine

/// A request to the backend API, as its HTTP server read it (the body already bounded by `max_body`).
struct APIRequest: Sendable {
    var method: String
    var path: String
    var query: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
}

/// The answer: a status and a JSON body. An error answer is also the failure of a step that could
/// not go on (decoding the body, finding the endpoint).
struct APIResponse: Error, Sendable, Equatable {
    var status: Int
    var json: String

    /// `{"error": message}`.
    static func error(_ status: Int, _ message: String) -> APIResponse {
        APIResponse(status: status, json: #"{"error":\#(JSONText.quoted(message))}"#)
    }
}

/// What the API acts on: the broadcast endpoints of the configuration being served now.
protocol APITarget: Sendable {
    /// The broadcast endpoint declared at `path` (its path as written in the configuration).
    func broadcastEndpoint(_ path: String) -> BroadcastEndpoint?
}

/// A rooms or disconnect request, as every instance answers it through the broker.
struct InstanceQuery: Codable, Sendable, Equatable {
    enum Operation: String, Codable, Sendable { case rooms, disconnect }
    var op: Operation
    var endpoint: String
    var room: String?
    var name: String?
    var code: Int?
    var reason: String?
}

/// One instance's answer: its members per room, or how many sessions it closed.
struct InstanceAnswer: Codable, Sendable, Equatable {
    var rooms: [String: Int]?
    var disconnected: Int?
}

/// `server.api`: `POST {path}/publish`, `GET {path}/rooms`, `POST {path}/disconnect`, behind a bearer
/// key compared in constant time. Errors are JSON: 401 bad key, 400 bad body, 404 unknown endpoint or
/// route, 405 wrong method (413 for a body over `max_body` comes from the HTTP server).
struct BackendAPI: Sendable {
    let settings: APISettings
    let target: any APITarget

    struct PublishBody: Decodable {
        enum Message: Decodable {
            case text(String)
            case binary([UInt8])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                    return
                }
                struct Binary: Decodable { let base64: String }
                let binary = try container.decode(Binary.self)
                guard let bytes = Data(base64Encoded: binary.base64) else {
                    throw DecodingError.dataCorruptedError(
                        in: container, debugDescription: "message.base64 is not base64")
                }
                self = .binary(Array(bytes))
            }
        }

        let endpoint: String
        let room: String?
        let name: String?
        let message: Message
    }

    struct DisconnectBody: Decodable {
        let endpoint: String
        let room: String?
        let name: String?
        let code: Int?
        let reason: String?
    }

    func respond(_ request: APIRequest) async -> APIResponse {
        guard authorized(request.headers) else {
            return .error(401, "missing or wrong API key: send 'Authorization: Bearer <server.api.key>'")
        }
        let route = request.path.hasPrefix(settings.path) ? String(request.path.dropFirst(settings.path.count)) : ""
        do {
            switch (route, request.method) {
            case ("/publish", "POST"): return try publish(request.body)
            case ("/rooms", "GET"): return try await rooms(request.query)
            case ("/disconnect", "POST"): return try await disconnect(request.body)
            case ("/publish", _), ("/disconnect", _): return .error(405, "\(request.path) answers POST only")
            case ("/rooms", _): return .error(405, "\(request.path) answers GET only")
            default:
                return .error(
                    404,
                    "no API route \(request.path); the routes are \(settings.path)/publish, /rooms and /disconnect")
            }
        } catch {
            return error
        }
    }

    /// Compares the bearer key in constant time (for keys of one length: the length is not a secret worth
    /// hiding, the bytes are).
    func authorized(_ headers: [(name: String, value: String)]) -> Bool {
        guard let value = headers.first(where: { $0.name.lowercased() == "authorization" })?.value else { return false }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return Self.constantTimeEqual(Array(parts[1].utf8), Array(settings.key.utf8))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0xFF)
        }
        return difference == 0
    }

    private func decode<Body: Decodable>(_ type: Body.Type, _ body: [UInt8]) throws(APIResponse) -> Body {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch let DecodingError.keyNotFound(key, _) {
            throw .error(400, "the body has no '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .error(400, "the body is not valid: \(field.isEmpty ? "" : "\(field): ")\(context.debugDescription)")
        } catch {
            throw .error(400, "the body is not a JSON object of the documented shape")
        }
    }

    private func endpoint(_ path: String) throws(APIResponse) -> BroadcastEndpoint {
        guard let endpoint = target.broadcastEndpoint(path) else {
            throw .error(404, "no broadcast endpoint '\(path)'; give its path as in the configuration")
        }
        return endpoint
    }

    private func publish(_ body: [UInt8]) throws(APIResponse) -> APIResponse {
        let request = try decode(PublishBody.self, body)
        let endpoint = try self.endpoint(request.endpoint)
        guard let room = request.room ?? endpoint.defaultRoom, !room.isEmpty else {
            return .error(400, "endpoint \(request.endpoint) has rooms: give 'room'")
        }
        let delivered: Bool
        switch request.message {
        case .text(let text): delivered = endpoint.publish(text: text, name: request.name ?? "api", room: room)
        case .binary(let bytes): delivered = endpoint.publish(binary: bytes, room: room)
        }
        guard delivered else {
            return .error(503, "the broker could not take the message (Redis unreachable); retry")
        }
        return APIResponse(status: 200, json: #"{"published":true,"room":\#(JSONText.quoted(room))}"#)
    }

    private func rooms(_ query: String) async throws(APIResponse) -> APIResponse {
        var path: String?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "endpoint" { path = String(parts[1]).removingPercentEncoding }
        }
        guard let path else { return .error(400, "give the endpoint: ?endpoint=/chat/{room}") }
        let endpoint = try self.endpoint(path)
        let (answers, census) = await everyInstance(
            InstanceQuery(op: .rooms, endpoint: path), of: endpoint,
            local: InstanceAnswer(rooms: Self.members(endpoint)))
        var members: [String: Int] = [:]
        for answer in answers { members.merge(answer.rooms ?? [:], uniquingKeysWith: +) }
        let rooms = members.keys.sorted().map { #"{"room":\#(JSONText.quoted($0)),"members":\#(members[$0] ?? 0)}"# }
        return APIResponse(
            status: 200,
            json: #"{"endpoint":\#(JSONText.quoted(path)),"rooms":[\#(rooms.joined(separator: ","))],\#(census)}"#)
    }

    private func disconnect(_ body: [UInt8]) async throws(APIResponse) -> APIResponse {
        let request = try decode(DisconnectBody.self, body)
        let endpoint = try self.endpoint(request.endpoint)
        let query = InstanceQuery(
            op: .disconnect, endpoint: request.endpoint, room: request.room, name: request.name, code: request.code,
            reason: request.reason)
        if case .failure(let problem) = Self.closeReason(query) { return problem }
        let (answers, census) = await everyInstance(
            query, of: endpoint, local: InstanceAnswer(disconnected: await Self.disconnect(endpoint, query)))
        let count = answers.reduce(0) { $0 + ($1.disconnected ?? 0) }
        return APIResponse(status: 200, json: #"{"disconnected":\#(count),\#(census)}"#)
    }

    /// The close a disconnect sends: `code` (1000 by default; 1001, 1008 or 3000–4999) and `reason`
    /// (at most 123 bytes).
    static func closeReason(_ query: InstanceQuery) -> Result<CloseReason, APIResponse> {
        let code = query.code ?? 1000
        guard code == 1000 || code == 1001 || code == 1008 || (3000...4999).contains(code) else {
            return .failure(.error(400, "code \(code) cannot be sent: use 1000, 1001, 1008 or 3000-4999"))
        }
        let reason = query.reason ?? ""
        guard reason.utf8.count <= 123 else {
            return .failure(.error(400, "reason is \(reason.utf8.count) bytes; a close reason holds at most 123"))
        }
        return .success(CloseReason(CloseReason.Code(UInt16(code)), reason))
    }

    /// This instance's members per room of `endpoint` (rooms with members only).
    static func members(_ endpoint: BroadcastEndpoint) -> [String: Int] {
        endpoint.hub.statistics().members.filter { $0.value > 0 }
    }

    /// Closes this instance's sessions of `endpoint` matching `query`'s room and name (none for a code
    /// or reason that cannot be sent).
    static func disconnect(_ endpoint: BroadcastEndpoint, _ query: InstanceQuery) async -> Int {
        guard case .success(let reason) = closeReason(query) else { return 0 }
        return await endpoint.directory.close(room: query.room, name: query.name, reason)
    }

    /// When `endpoint`'s rooms go through the broker, asks every instance (this one included) and returns
    /// their answers; otherwise (no broker, `broker: local`), or when Redis cannot be reached, this
    /// instance's `local` answer. `census` is the JSON members
    /// `"instances":N,"complete":BOOL`: how many instances answered, and whether that is all of them.
    private func everyInstance(
        _ query: InstanceQuery, of endpoint: BroadcastEndpoint, local: @autoclosure () async -> InstanceAnswer
    ) async -> (
        answers: [InstanceAnswer], census: String
    ) {
        if let broker = endpoint.hub.broker, let request = try? JSONEncoder().encode(query) {
            do {
                let result = try await broker.ask(Array(request))
                let answers = result.answers.compactMap {
                    try? JSONDecoder().decode(InstanceAnswer.self, from: Data($0))
                }
                return (answers, #""instances":\#(answers.count),"complete":\#(result.unanswered == 0)"#)
            } catch {
                // Redis is away: this instance alone, said as such.
                return ([await local()], #""instances":1,"complete":false"#)
            }
        }
        return ([await local()], #""instances":1,"complete":true"#)
    }

    /// What this instance answers to another's (or its own) ``InstanceQuery`` through the broker.
    static func answer(_ request: [UInt8], target: any APITarget) async -> [UInt8] {
        guard let query = try? JSONDecoder().decode(InstanceQuery.self, from: Data(request)) else { return [] }
        var answer = InstanceAnswer()
        // An instance that does not serve the endpoint (another configuration) answers nothing for it.
        if let endpoint = target.broadcastEndpoint(query.endpoint) {
            switch query.op {
            case .rooms: answer.rooms = members(endpoint)
            case .disconnect: answer.disconnected = await disconnect(endpoint, query)
            }
        } else {
            answer = InstanceAnswer(
                rooms: query.op == .rooms ? [:] : nil, disconnected: query.op == .disconnect ? 0 : nil)
        }
        return (try? Array(JSONEncoder().encode(answer))) ?? []
    }
}
