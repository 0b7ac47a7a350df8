import NIOCore
import Testing
import WebSocketTesting

@testable import WebSocketEngine

/// Builds raw frame bytes; masked with a fixed key unless `mask` is nil.
func rawFrame(
    opcode: UInt8,
    payload: [UInt8],
    fin: Bool = true,
    rsv: UInt8 = 0,
    mask: (UInt8, UInt8, UInt8, UInt8)? = (0x37, 0xFA, 0x21, 0x3D)
) -> ByteBuffer {
    WebSocketTestClient.frameBytes(opcode: opcode, payload: payload, fin: fin, rsv: rsv, maskingKey: mask)
}

/// Runs a parser over a buffer and collects its events until it needs more bytes.
func events(_ parser: inout FrameParser, _ buffer: inout ByteBuffer) throws(ProtocolViolation) -> [FrameParser.Event] {
    var result: [FrameParser.Event] = []
    while let event = try parser.next(from: &buffer) { result.append(event) }
    return result
}

@Suite struct FrameParserTests {
    @Test func maskedTextFrame_isUnmasked() throws {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x1, payload: Array("Hello".utf8))
        let found = try events(&parser, &buffer)
        #expect(found.count == 3)
        guard case .payload(let payload) = found[1] else {
            Issue.record("no payload")
            return
        }
        #expect(String(buffer: payload) == "Hello")
        #expect(found[2] == .end)
    }

    @Test func payloadArrivingByteByByte_isUnmaskedWithTheRightKeyOffset() throws {
        let text = Array("The quick brown fox jumps over the lazy dog".utf8)
        let whole = rawFrame(opcode: 0x2, payload: text)
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var collected: [UInt8] = []
        var input = ByteBuffer()
        for byte in whole.readableBytesView {
            input.writeInteger(byte)
            for event in try events(&parser, &input) {
                if case .payload(let chunk) = event { collected += chunk.readableBytesView }
            }
        }
        #expect(collected == text)
    }

    @Test(arguments: [125, 126, 65535, 65536, 200_000])
    func lengthEncodings_roundTrip(_ size: Int) throws {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        var buffer = rawFrame(opcode: 0x2, payload: payload)
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        let found = try events(&parser, &buffer)
        guard case .header(let header) = found.first else {
            Issue.record("no header")
            return
        }
        #expect(header.payloadLength == size)
        var collected: [UInt8] = []
        for case .payload(let chunk) in found { collected += chunk.readableBytesView }
        #expect(collected == payload)
    }

    @Test func unmaskedClientFrame_isAProtocolError() {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x1, payload: [0x41], mask: nil)
        #expect(throws: ProtocolViolation.unmaskedClientFrame) { try events(&parser, &buffer) }
        #expect(ProtocolViolation.unmaskedClientFrame.closeCode == .protocolError)
    }

    @Test func maskedServerFrame_isAProtocolErrorForAClient() {
        var parser = FrameParser(role: .client, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x1, payload: [0x41])
        #expect(throws: ProtocolViolation.maskedServerFrame) { try events(&parser, &buffer) }
    }

    @Test(arguments: [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcode_failsOnTheFirstByte(_ opcode: UInt8) {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = ByteBuffer(bytes: [0x80 | opcode])
        #expect(throws: ProtocolViolation.reservedOpcode(opcode)) { try events(&parser, &buffer) }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7] as [UInt8])
    func reservedBits_withoutExtension_areAProtocolError(_ rsv: UInt8) {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x1, payload: [0x41], rsv: rsv)
        #expect(throws: ProtocolViolation.reservedBitsSet(ReservedBits(rawValue: rsv))) { try events(&parser, &buffer) }
    }

    @Test func reservedBit_claimedByAnExtension_isAllowed() throws {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20, allowedReservedBits: .rsv1)
        var buffer = rawFrame(opcode: 0x1, payload: [0x41], rsv: 0b100)
        let found = try events(&parser, &buffer)
        guard case .header(let header) = found.first else {
            Issue.record("no header")
            return
        }
        #expect(header.reserved == .rsv1)
    }

    @Test func controlFrameLongerThan125_isAProtocolError() {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x9, payload: Array(repeating: 0, count: 126))
        #expect(throws: ProtocolViolation.controlFrameTooLong(126)) { try events(&parser, &buffer) }
    }

    @Test func fragmentedControlFrame_isAProtocolError() {
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var buffer = rawFrame(opcode: 0x9, payload: [1], fin: false)
        #expect(throws: ProtocolViolation.fragmentedControlFrame) { try events(&parser, &buffer) }
    }

    @Test func frameOverMaxFrameSize_failsAtTheHeader_with1009() {
        var parser = FrameParser(role: .server, maxFrameSize: 1000)
        // Only the header: the payload never needs to arrive.
        var buffer = ByteBuffer(bytes: [0x82, 0x80 | 126, 0x03, 0xE9, 1, 2, 3, 4])
        #expect(throws: ProtocolViolation.frameTooLarge(length: 1001, limit: 1000)) { try events(&parser, &buffer) }
        #expect(ProtocolViolation.frameTooLarge(length: 1001, limit: 1000).closeCode == .messageTooBig)
    }

    @Test func sixtyFourBitLength_withTheHighBitSet_isAProtocolError() {
        var parser = FrameParser(role: .server, maxFrameSize: Int.max)
        var buffer = ByteBuffer(bytes: [0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
        #expect(throws: ProtocolViolation.payloadLengthTooLarge) { try events(&parser, &buffer) }
    }

    @Test func encoder_andParser_agree() throws {
        let payload = ByteBuffer(string: String(repeating: "x", count: 300))
        var encoded = FrameEncoder.encode(opcode: .binary, payload: payload, maskingKey: (9, 8, 7, 6))
        var parser = FrameParser(role: .server, maxFrameSize: 1 << 20)
        var collected = ByteBuffer()
        for case .payload(var chunk) in try events(&parser, &encoded) { collected.writeBuffer(&chunk) }
        #expect(collected == payload)
    }
}
