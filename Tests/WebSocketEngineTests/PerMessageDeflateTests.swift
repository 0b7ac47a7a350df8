import CompressNIO
import NIOCore
import Testing

@testable import WebSocketEngine

func offer(_ parameters: [(String, String?)]) -> WebSocketExtensionOffer {
    WebSocketExtensionOffer(name: "permessage-deflate", parameters: parameters.map { .init($0.0, $0.1) })
}

/// A configuration that keeps the server's context (the default does not), so a response carries only
/// what the offer and the test's settings ask for.
let withContext = PerMessageDeflateConfiguration(serverNoContextTakeover: false)

func negotiated(_ offers: [WebSocketExtensionOffer], _ configuration: PerMessageDeflateConfiguration = withContext)
    -> String?
{
    PerMessageDeflateNegotiation.negotiate(offers: offers, configuration: configuration)?.response.description
}

@Suite struct PerMessageDeflateNegotiationTests {
    @Test func plainOffer_isAcceptedWithoutParameters() {
        #expect(negotiated([offer([])]) == "permessage-deflate")
    }

    @Test func byDefault_theServerCompressesWithoutContext_whateverTheOffer() {
        // RFC 7692 §7.1.1.1: a server may add server_no_context_takeover to any response.
        #expect(negotiated([offer([])], .init()) == "permessage-deflate; server_no_context_takeover")
        #expect(
            negotiated([offer([("client_max_window_bits", nil)])], .init())
                == "permessage-deflate; server_no_context_takeover")
    }

    @Test(
        arguments: [
            // Each parameter the client may send, accepted as RFC 7692 §7.1 says.
            ([("server_no_context_takeover", nil)], "permessage-deflate; server_no_context_takeover"),
            ([("client_no_context_takeover", nil)], "permessage-deflate; client_no_context_takeover"),
            ([("server_max_window_bits", "10")], "permessage-deflate; server_max_window_bits=10"),
            ([("server_max_window_bits", "15")], "permessage-deflate; server_max_window_bits=15"),
            ([("client_max_window_bits", nil)], "permessage-deflate"),
            ([("client_max_window_bits", "12")], "permessage-deflate; client_max_window_bits=12"),
            (
                [
                    ("server_no_context_takeover", nil), ("client_max_window_bits", nil),
                    ("server_max_window_bits", "9"),
                ],
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
            ),
        ] as [([(String, String?)], String)])
    func eachParameter_isHonoured(_ parameters: [(String, String?)], _ expected: String) {
        #expect(negotiated([offer(parameters)]) == expected)
    }

    @Test(
        arguments: [
            [("server_max_window_bits", nil)],  // needs a value
            [("server_max_window_bits", "16")],
            [("server_max_window_bits", "7")],
            [("server_max_window_bits", "010")],
            [("client_max_window_bits", "abc")],
            [("server_no_context_takeover", "1")],
            [("server_no_context_takeover", nil), ("server_no_context_takeover", nil)],
            [("unknown_parameter", nil)],
            [("server_max_window_bits", "8")],  // zlib cannot compress with a 256-byte window
        ] as [[(String, String?)]])
    func invalidOrImpossibleOffers_areDeclined(_ parameters: [(String, String?)]) {
        #expect(negotiated([offer(parameters)]) == nil)
    }

    @Test func firstOfferThatCanBeHonoured_wins() {
        let offers = [
            offer([("server_max_window_bits", "8")]), offer([("x", nil)]), offer([("client_max_window_bits", nil)]),
            offer([]),
        ]
        #expect(negotiated(offers) == "permessage-deflate")
        let second = [offer([("bogus", nil)]), offer([("server_no_context_takeover", nil)])]
        #expect(negotiated(second) == "permessage-deflate; server_no_context_takeover")
    }

    @Test func serverConfiguration_addsItsOwnLimits_onlyWhereTheRFCAllows() {
        let configuration = PerMessageDeflateConfiguration(
            serverNoContextTakeover: true,
            clientNoContextTakeover: true,
            serverMaxWindowBits: 11,
            clientMaxWindowBits: 10
        )
        // client_max_window_bits is answered only when offered.
        #expect(
            negotiated([offer([])], configuration)
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11"
        )
        #expect(
            negotiated([offer([("client_max_window_bits", nil)])], configuration)
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10"
        )
        // Never a larger window than the client allowed.
        #expect(
            negotiated([offer([("server_max_window_bits", "9"), ("client_max_window_bits", "9")])], configuration)
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"
        )
    }

    @Test func offerHeader_withQuotedValue_negotiates() {
        let offers = ExtensionNegotiation.parseOffers(["permessage-deflate; server_max_window_bits=\"12\""]) ?? []
        #expect(negotiated(offers) == "permessage-deflate; server_max_window_bits=12")
    }
}

/// A client-side compressor like a browser's: raw deflate, sync flush, tail removed.
final class ClientDeflater {
    let compressor: ZlibCompressor
    let resetEachMessage: Bool

    init(windowBits: Int32 = 15, resetEachMessage: Bool = false) throws {
        compressor = try ZlibCompressor(algorithm: .deflate, configuration: ZlibConfiguration(windowSize: windowBits))
        self.resetEachMessage = resetEachMessage
    }

    func compress(_ text: String) throws -> ByteBuffer {
        var input = ByteBuffer(string: text)
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        output.moveWriterIndex(to: output.writerIndex - 4)
        if resetEachMessage { try compressor.reset() }
        return output
    }
}

@Suite struct PerMessageDeflateTransformTests {
    func session(
        _ offers: [WebSocketExtensionOffer] = [offer([])], _ configuration: PerMessageDeflateConfiguration = withContext
    )
        throws -> any WebSocketExtension
    {
        try #require(PerMessageDeflateFactory(configuration).negotiate(offers: offers))
    }

    let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 40)

    @Test func serverOutput_inflatesBack_andContextTakeoverShrinksRepeats() throws {
        let deflate = try session()
        let (first, bits) = try deflate.encode(ByteBuffer(string: text), isText: true)
        #expect(bits == 0b100)
        #expect(first.readableBytes < text.utf8.count / 10)
        let (second, _) = try deflate.encode(ByteBuffer(string: text), isText: true)
        #expect(second.readableBytes < first.readableBytes, "the second copy refers back to the first")

        // A client decompressor keeping its context inflates both.
        let receiver = try session()
        #expect(String(buffer: try receiver.decode(first, reservedBits: 0b100, maxSize: 1 << 20)) == text)
        #expect(String(buffer: try receiver.decode(second, reservedBits: 0b100, maxSize: 1 << 20)) == text)
    }

    @Test func serverNoContextTakeover_makesEveryMessageStandAlone() throws {
        let deflate = try session([offer([("server_no_context_takeover", nil)])])
        let (first, _) = try deflate.encode(ByteBuffer(string: text), isText: true)
        let (second, _) = try deflate.encode(ByteBuffer(string: text), isText: true)
        #expect(first == second)
        // Each inflates on a fresh decompressor.
        #expect(String(buffer: try session().decode(second, reservedBits: 0b100, maxSize: 1 << 20)) == text)
    }

    @Test func clientContext_isKeptAcrossMessages_orNotWhenTheClientResets() throws {
        for resets in [false, true] {
            let client = try ClientDeflater(resetEachMessage: resets)
            let server = try session(resets ? [offer([("client_no_context_takeover", nil)])] : [offer([])])
            for _ in 0..<3 {
                let wire = try client.compress(text)
                #expect(String(buffer: try server.decode(wire, reservedBits: 0b100, maxSize: 1 << 20)) == text)
            }
        }
    }

    @Test func sessionsWithoutContext_shareTheirThreadsStreams_andLeaveThemClean() throws {
        // Two sessions on one thread borrow the same pooled compressor and decompressor in turn:
        // neither sees the other's history, and a message that fails to inflate leaves nothing behind.
        let (a, b) = (try session([offer([])], .init()), try session([offer([])], .init()))
        let clean = try session([offer([])], .init())
        let reference = try clean.encode(ByteBuffer(string: text), isText: true).payload
        for _ in 0..<3 {
            #expect(try a.encode(ByteBuffer(string: text), isText: true).payload == reference)
            #expect(try b.encode(ByteBuffer(string: text), isText: true).payload == reference)
        }
        let noContext = [offer([("client_no_context_takeover", nil)])]
        let (c, d) = (try session(noContext, .init()), try session(noContext, .init()))
        let client = try ClientDeflater(resetEachMessage: true)
        let wire = try client.compress(text)
        #expect(throws: (any Error).self) {
            _ = try c.decode(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x00, 0x01]), reservedBits: 0b100, maxSize: 1 << 20)
        }
        #expect(String(buffer: try d.decode(wire, reservedBits: 0b100, maxSize: 1 << 20)) == text)
        #expect(String(buffer: try c.decode(wire, reservedBits: 0b100, maxSize: 1 << 20)) == text)
    }

    @Test func aLimitedClientWindow_isInflatedWithThatWindow() throws {
        let client = try ClientDeflater(windowBits: 10)
        let server = try session(
            [offer([("client_max_window_bits", nil)])], PerMessageDeflateConfiguration(clientMaxWindowBits: 10))
        for _ in 0..<3 {
            #expect(
                String(buffer: try server.decode(try client.compress(text), reservedBits: 0b100, maxSize: 1 << 20))
                    == text)
        }
    }

    @Test func smallMessages_goUncompressed() throws {
        let deflate = try session([offer([])], PerMessageDeflateConfiguration(compressMinSize: 64))
        #expect(deflate.sharedEncodingKey != nil, "the default compresses without context")
        let (payload, bits) = try deflate.encode(ByteBuffer(string: "short"), isText: true)
        #expect(bits == 0)
        #expect(String(buffer: payload) == "short")
        let (empty, emptyBits) = try deflate.encode(ByteBuffer(), isText: false)
        #expect(emptyBits == 0 && empty.readableBytes == 0)
    }

    @Test func zipBomb_failsAsTooBig_withoutInflatingTheWhole() throws {
        // 256 MiB of zeros compress to about 256 KiB; the limit is 1 MiB.
        let client = try ClientDeflater()
        let compressor = client.compressor
        var bomb = ByteBuffer()
        var zeros = ByteBuffer(repeating: 0, count: 1 << 20)
        for _ in 0..<256 {
            var chunk = zeros
            var out = ByteBuffer()
            out.reserveCapacity(compressor.maxSize(from: chunk))
            try compressor.deflate(from: &chunk, to: &out, flush: .sync)
            bomb.writeBuffer(&out)
        }
        zeros.clear()
        bomb.moveWriterIndex(to: bomb.writerIndex - 4)
        #expect(bomb.readableBytes < 1 << 20)
        let server = try session()
        #expect(throws: WebSocketExtensionError.messageTooBig) {
            _ = try server.decode(bomb, reservedBits: 0b100, maxSize: 1 << 20)
        }
    }

    @Test func garbage_isInvalidData() throws {
        let server = try session()
        #expect(throws: WebSocketExtensionError.self) {
            _ = try server.decode(
                ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x00, 0x12]), reservedBits: 0b100, maxSize: 1 << 20)
        }
    }
}
