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

    @Test func whatAdmissionHandsOver_fitsInAnExistentialsInlineBuffer_andKeepsEveryValue() throws {
        // Three words: a numbered member's `admitted` costs no allocation of its own.
        #expect(MemoryLayout<Admitted>.size <= 3 * MemoryLayout<Int>.size)
        let claims = Claims(["sub": .string("ann")])
        let both = Admitted(claims: claims, number: 7)
        #expect(both.claims == claims)
        #expect(both.number == 7)
        #expect(Admitted(number: 0).number == 0)
        #expect(Admitted(number: 0).claims == nil)
        #expect(Admitted(claims: claims).number == nil)
        #expect(Admitted().upstream == nil)
    }

    @Test func aSharedProcess_numbersItsConnectionsAtAdmission() throws {
        let shared = try runtime("{ path: /feed, type: process, command: [cat], instance: shared }")
        let admission = try #require(shared.admission)
        #expect(number(admission(request)) == 0)
        #expect(number(admission(request)) == 1)
    }
}
