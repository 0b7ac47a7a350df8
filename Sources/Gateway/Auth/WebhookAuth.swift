import AsyncHTTPClient
import Foundation
import GatewayConfig
import NIOCore
import Synchronization
import WebSocketEngine

/// `auth.webhook`: asks the backend about each handshake (like nginx's `auth_request`), with a timeout
/// and at most `max_concurrent` checks in flight; anything but a clear answer refuses (fail closed).
final class WebhookAuth: Sendable {
    let settings: WebhookSettings
    private let inFlight = Atomic<Int>(0)
    /// The largest answer read; a longer one is a failure.
    static let maxAnswer = 64 * 1024

    init(_ settings: WebhookSettings) {
        self.settings = settings
    }

    /// The claims the backend granted, or why not.
    func check(_ request: WebSocketRequest) async -> Result<Claims, AuthFailure> {
        guard inFlight.add(1, ordering: .relaxed).newValue <= settings.maxConcurrent else {
            inFlight.subtract(1, ordering: .relaxed)
            return .failure(.webhookBusy)
        }
        defer { inFlight.subtract(1, ordering: .relaxed) }
        let body = Self.requestBody(request, headers: settings.headers)
        let url = settings.url
        let timeout = settings.timeout
        let answer = await withTaskGroup(of: Result<(Int, [UInt8]), AuthFailure>?.self) { group in
            group.addTask {
                do {
                    var outgoing = HTTPClientRequest(url: url)
                    outgoing.method = .POST
                    outgoing.headers.add(name: "Content-Type", value: "application/json")
                    outgoing.body = .bytes(ByteBuffer(bytes: body))
                    let response = try await HTTPClient.shared.execute(outgoing, timeout: TimeAmount(timeout))
                    let bytes = try await response.body.collect(upTo: Self.maxAnswer)
                    return .success((Int(response.status.code), Array(bytes.readableBytesView)))
                } catch {
                    return .failure(.webhookUnavailable("no answer"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(.webhookUnavailable("timed out"))
        }
        switch answer {
        case .success(let (status, bytes)): return Self.decide(status: status, body: bytes)
        case .failure(let failure): return .failure(failure)
        }
    }

    /// The JSON the backend gets: method, path, query, the allow-listed headers (lower-cased names, values
    /// of one name joined with ", ") and the peer's address.
    static func requestBody(_ request: WebSocketRequest, headers allowed: [String]) -> [UInt8] {
        let names = Set(allowed.map { $0.lowercased() })
        var forwarded: [String: String] = [:]
        for (name, value) in request.headers where names.contains(name.lowercased()) {
            let key = name.lowercased()
            forwarded[key] = forwarded[key].map { "\($0), \(value)" } ?? value
        }
        let headers = forwarded.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(forwarded[$0] ?? ""))" }
        let json =
            #"{"method":"GET","path":\#(JSONText.quoted(request.path)),"query":\#(JSONText.quoted(request.query)),"#
            + #""headers":{\#(headers.joined(separator: ","))},"#
            + #""peer":{"address":\#(JSONText.quoted(request.remoteAddress ?? "")),"port":\#(request.remotePort ?? 0)}}"#
        return Array(json.utf8)
    }

    private struct Answer: Decodable {
        let name: String?
        let rooms: [String]?
        let claims: [String: ClaimValue]?
    }

    /// The backend's answer as a decision: 2xx admits with what its JSON body (optional) sets, 401 and 403
    /// refuse with that status, anything else refuses with 503.
    static func decide(status: Int, body: [UInt8]) -> Result<Claims, AuthFailure> {
        switch status {
        case 200..<300:
            let trimmed = body.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            guard !trimmed.isEmpty else { return .success(Claims([:])) }
            guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(trimmed)) else {
                return .failure(.webhookUnavailable("its 2xx body is not the documented JSON"))
            }
            if let name = answer.name, !BroadcastEndpoint.isValidName(name) {
                return .failure(.webhookUnavailable("its name is not 1 to 32 letters, digits, '_', '-' or '.'"))
            }
            return .success(Claims(answer.claims ?? [:], memberName: answer.name, rooms: answer.rooms))
        case 401, 403:
            return .failure(.webhookRefused(status))
        default:
            return .failure(.webhookUnavailable("status \(status)"))
        }
    }
}
