import FlipExtension
import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

@testable import WebSocketEngine

@Suite struct ExtensionOfferParsingTests {
    @Test func severalOffers_withQuotedAndBareParameters_parse() {
        let offers = ExtensionNegotiation.parseOffers([
            "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
            "x-flip",
        ])
        #expect(
            offers == [
                WebSocketExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits")]),
                WebSocketExtensionOffer(
                    name: "permessage-deflate", parameters: [.init("server_max_window_bits", "10")]),
                WebSocketExtensionOffer(name: "x-flip"),
            ]
        )
    }

    @Test(arguments: ["; a", "x; a=", "x;;", "x y", "x; a=\"\"", "x; a=\"b c\"", "x; a=\"unterminated"])
    func malformedHeaders_areRejected(_ value: String) {
        #expect(ExtensionNegotiation.parseOffers([value]) == nil)
    }

    @Test func responseValue_quotesWhatIsNotAToken() {
        let offer = WebSocketExtensionOffer(name: "x", parameters: [.init("a"), .init("b", "15"), .init("c", "a b")])
        #expect(offer.description == "x; a; b=15; c=\"a b\"")
    }
}

@Suite struct ExtensionIntegrationTests {
    func router() throws -> WebSocketRouter {
        try echoRouter(options: WebSocketOptions(pingPeriod: .zero, extensions: [FlipFactory()]))
    }

    @Test func negotiatedExtension_transformsBothWays_andItsReservedBitIsAllowed() async throws {
        try await withTestServer(try router()) { server in
            let client = try await server.connect(
                "/echo", headers: [("Sec-WebSocket-Extensions", "x-flip; v=2, x-flip")])
            #expect(client.responseHeaders["sec-websocket-extensions"] == "x-flip")
            let flipped = Array("hello".utf8).map { ~$0 }
            try await client.sendFrame(opcode: 0x1, payload: flipped, rsv: 0b010)
            // The handler saw "hello" (valid text after decoding) and echoed it; the reply is flipped again.
            #expect(try await client.receive() == .text(ByteBuffer(bytes: flipped)))
            // A message without the bit passes untouched through decode.
            try await client.send("plain")
            #expect(try await client.receive() == .text(ByteBuffer(bytes: Array("plain".utf8).map { ~$0 })))
            // RSV1 is still nobody's: 1002.
            try await client.sendFrame(opcode: 0x1, payload: [0x41], rsv: 0b100)
            #expect(try await receiveClose(client)?.code == .protocolError)
        }
    }

    @Test func declinedOrUnoffered_extension_leavesReservedBitsForbidden() async throws {
        try await withTestServer(try router()) { server in
            let client = try await server.connect("/echo", headers: [("Sec-WebSocket-Extensions", "x-flip; mode=fast")])
            #expect(client.responseHeaders["sec-websocket-extensions"] == nil)
            try await client.sendFrame(opcode: 0x1, payload: [0x41], rsv: 0b010)
            #expect(try await receiveClose(client)?.code == .protocolError)
        }
    }

    @Test func textThatIsNotUTF8AfterDecoding_closesWith1007() async throws {
        try await withTestServer(try router()) { server in
            let client = try await server.connect("/echo", headers: [("Sec-WebSocket-Extensions", "x-flip")])
            // Flipped 0xC0 0xAF is an overlong form once restored.
            try await client.sendFrame(opcode: 0x1, payload: [~0xC0, ~0xAF], rsv: 0b010)
            #expect(try await receiveClose(client)?.code == .invalidPayload)
        }
    }
}
