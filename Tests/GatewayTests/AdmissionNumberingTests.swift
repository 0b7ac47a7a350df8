import GatewayConfig
import Testing
import WebSocketEngine

@testable import Gateway

private func runtime(_ endpoint: String) throws -> EndpointRuntime {
    let app = try application("version: 1\nendpoints:\n  - \(endpoint)\n")
    return try #require(app.endpoints.values.first)
}

private let request = WebSocketRequest.make(
    path: "/room", query: "name=ann", headers: [], remoteAddress: "127.0.0.1", remotePort: 1)

/// The number a synchronous admission granted.
private func number(_ admission: Admission?) -> Int? {
    guard case .grant(let grant) = admission else { return nil }
    return (grant.value as? Admitted)?.number
}

/// `{n}` and a shared process's `{connection}` are taken by the admission, before the 101, in the order the
/// handshakes are answered — not by the session handlers, which may start in another order.
@Suite struct AdmissionNumberingTests {
    @Test func aRoomThatNamesMembersByNumber_numbersThemAtAdmission() throws {
        let room = try runtime("{ path: /room, type: broadcast }")
        let admission = try #require(room.admission)
        #expect((0..<3).map { _ in number(admission(request)) } == [0, 1, 2])
    }

    @Test func endpointsThatNeedNoNumber_takeNone() throws {
        #expect(try runtime(#"{ path: /room, type: broadcast, name: "{query.name}" }"#).admission == nil)
        #expect(try runtime("{ path: /echo, type: echo }").admission == nil)
    }

    @Test func aSharedProcess_numbersItsConnectionsAtAdmission() throws {
        let shared = try runtime("{ path: /feed, type: process, command: [cat], instance: shared }")
        let admission = try #require(shared.admission)
        #expect(number(admission(request)) == 0)
        #expect(number(admission(request)) == 1)
    }
}
