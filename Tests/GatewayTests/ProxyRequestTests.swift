import Testing
import WebSocketEngine

@testable import Gateway

private func request(query: String = "", headers: [(name: String, value: String)] = []) -> WebSocketRequest {
    WebSocketRequest.make(
        path: "/live", query: query, headers: [(name: "Host", value: "gw.example:8080")] + headers,
        remoteAddress: "192.0.2.7", remotePort: 5000)
}

@Suite struct ProxyRequestTests {
    @Test func theQuery_isAppended_toTheUpstreamsOwn() {
        #expect(
            ProxyRequest(upstream: "ws://b/live", request: request(), passHeaders: [], secure: false).url
                == "ws://b/live")
        #expect(
            ProxyRequest(upstream: "ws://b/live", request: request(query: "room=a"), passHeaders: [], secure: false).url
                == "ws://b/live?room=a")
        #expect(
            ProxyRequest(upstream: "ws://b/live?v=2", request: request(query: "room=a"), passHeaders: [], secure: true)
                .url == "ws://b/live?v=2&room=a")
    }

    @Test func forwardedHeaders_areSet_andOnlyChosenHeadersPass() {
        let plan = ProxyRequest(
            upstream: "ws://b/",
            request: request(headers: [
                (name: "X-Forwarded-For", value: "10.0.0.1"), (name: "Authorization", value: "Bearer x"),
                (name: "Cookie", value: "s=1"), (name: "Sec-WebSocket-Protocol", value: "chat, v2"),
            ]),
            passHeaders: ["authorization", "X-Forwarded-Proto"], secure: true)
        #expect(
            plan.headers.map { "\($0.name): \($0.value)" } == [
                "Authorization: Bearer x", "X-Forwarded-For: 10.0.0.1, 192.0.2.7", "X-Forwarded-Proto: https",
                "X-Forwarded-Host: gw.example:8080",
            ])
        #expect(plan.subprotocols == ["chat", "v2"])
    }

    @Test func aLostConnection_becomes1014TowardsTheClient_and1001TowardsTheUpstream() {
        #expect(ProxyClose.forward(CloseReason(.abnormalClosure), towardsClient: true).code == .badGateway)
        #expect(ProxyClose.forward(CloseReason(.abnormalClosure), towardsClient: false).code == .goingAway)
        #expect(
            ProxyClose.forward(CloseReason(CloseReason.Code(4001), "x"), towardsClient: true)
                == CloseReason(CloseReason.Code(4001), "x"))
    }

    @Test func fieldsTheGatewaySets_replaceTheClients_andCarryNoLineBreak() {
        let plan = ProxyRequest(
            upstream: "ws://b/",
            request: request(headers: [(name: "x-user-id", value: "mallory"), (name: "X-Other", value: "o")]),
            passHeaders: ["X-User-Id", "X-Other"],
            set: [.init(name: "X-User-Id", value: "alice\r\nX-Evil: 1\u{7F}")], secure: false)
        #expect(plan.headers.filter { $0.name.lowercased() == "x-user-id" }.map(\.value) == ["aliceX-Evil: 1"])
        #expect(plan.headers.contains { $0.name == "X-Other" && $0.value == "o" })
    }

    @Test func theTokensQueryParameterAndSubprotocol_stayAtTheGateway() {
        let plan = ProxyRequest(
            upstream: "ws://b/live?v=2",
            request: request(
                query: "token=abc&room=r%201&to%6Ben=x&tokens=keep",
                headers: [(name: "Sec-WebSocket-Protocol", value: "chat, base64url.bearer.eyJ")]),
            passHeaders: [], withoutQuery: ["token"], withoutBearer: true, secure: false)
        #expect(plan.url == "ws://b/live?v=2&room=r%201&tokens=keep")
        #expect(plan.subprotocols == ["chat"])
        #expect(ProxyRequest.query("token=a", without: ["token"]) == "")
        #expect(ProxyRequest.query("a=1&&b", without: []) == "a=1&&b")
    }
}
