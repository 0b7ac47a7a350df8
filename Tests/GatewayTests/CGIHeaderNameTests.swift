import Testing

@testable import Gateway

@Suite struct CGIHeaderNameTests {
    @Test(arguments: [
        ("X-Request-Id", "HTTP_X_REQUEST_ID"),
        ("user-agent", "HTTP_USER_AGENT"),
        ("Sec-WebSocket-Protocol", "HTTP_SEC_WEBSOCKET_PROTOCOL"),
        ("Proxy-Authorization", "HTTP_PROXY_AUTHORIZATION"),
    ])
    func ordinaryHeaders_becomeHTTPVariables(header: String, variable: String) {
        #expect(CGIHeaderName.variable(forHeader: header) == variable)
    }

    @Test(arguments: ["Proxy", "proxy", "PROXY", "pRoXy"])
    func proxyHeader_neverBecomesHTTP_PROXY_httpoxy(header: String) {
        #expect(CGIHeaderName.variable(forHeader: header) == nil)
    }

    @Test(arguments: ["X_Real_IP", "x_forwarded_for", "Proxy_", "A.B", "a+b", "", "Ünicode"])
    func namesThatCouldPoseAsAnotherHeader_areDropped(header: String) {
        #expect(CGIHeaderName.variable(forHeader: header) == nil)
    }
}
