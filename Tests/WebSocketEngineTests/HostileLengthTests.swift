import NIOCore
import Testing

@testable import WebSocketEngine

/// A masked frame header claiming `length` payload bytes (64-bit length form), with no payload.
func claimingHeader(opcode: UInt8 = 0x2, length: UInt64, fin: Bool = true) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger((fin ? 0x80 : 0) | opcode)
    buffer.writeInteger(UInt8(0x80 | 127))
    buffer.writeInteger(length)
    buffer.writeBytes([0x11, 0x22, 0x33, 0x44])
    return buffer
}

/// A peer's length field is a claim: whatever it says, up to 2^63 − 1, and whatever the limits say,
/// the engine answers with a close code and never traps or allocates from it.
@Suite struct HostileLengthTests {
    static let unlimited = Int.max

    @Test(arguments: [
        UInt64(8) << 30,  // the 8 GiB claim of issue 17
        UInt64(1) << 32,  // one past ByteBuffer's UInt32 capacity
        UInt64(EngineLimits.largestMessage) + 1,
        UInt64(Int64.max),  // 2^63 − 1, the largest a header may say
    ])
    func hugeClaim_withUnlimitedLimits_closes1009(length: UInt64) {
        var driver = MachineDriver(maxFrameSize: Self.unlimited, maxMessageSize: Self.unlimited)
        var input = claimingHeader(length: length)
        input.writeBytes([0x41, 0x42, 0x43])
        let actions = driver.feed(input)
        #expect(actions.count == 1 && failure(.messageTooBig)(actions[0]))
        #expect(driver.machine.closeReason?.message.contains("largest this server holds") == true)
    }

    @Test func hugeClaim_underAConfiguredLimit_closes1009_withTheLimitInTheReason() {
        var driver = MachineDriver(maxFrameSize: Self.unlimited, maxMessageSize: 1 << 20)
        let actions = driver.feed(claimingHeader(length: UInt64(Int64.max)))
        #expect(actions.count == 1 && failure(.messageTooBig)(actions[0]))
        #expect(driver.machine.closeReason?.message == "message exceeds max_message_size 1048576")
    }

    @Test func continuationThatWouldPassTheEngineCeiling_closes1009() {
        var driver = MachineDriver(maxFrameSize: Self.unlimited, maxMessageSize: Self.unlimited)
        let actions = driver.feed(
            rawFrame(opcode: 0x2, payload: [1, 2, 3], fin: false),
            claimingHeader(opcode: 0x0, length: UInt64(EngineLimits.largestMessage) - 2)
        )
        #expect(actions.count == 1 && failure(.messageTooBig)(actions[0]))
    }

    @Test func largestMessageTheEngineHolds_isAccepted_atTheHeader() {
        // The header alone is fine; no payload has come, so nothing is delivered and nothing allocated.
        var driver = MachineDriver(maxFrameSize: Self.unlimited, maxMessageSize: Self.unlimited)
        let actions = driver.feed(claimingHeader(length: UInt64(EngineLimits.largestMessage)))
        #expect(actions.isEmpty)
        #expect(driver.machine.state == .open)
    }

    @Test func bigClaim_isNotAllocatedUpFront_theBufferGrowsWithTheBytes() throws {
        var assembler = MessageAssembler(maxMessageSize: Self.unlimited)
        let header = FrameHeader(
            fin: true, reserved: [], opcode: .binary, maskingKey: nil, payloadLength: 1 << 30)
        try assembler.frameStarted(header)
        try assembler.append(ByteBuffer(bytes: [1, 2, 3, 4]))
        #expect(assembler.heldCapacity < 1 << 16)
    }

    @Test func effectiveMessageLimit_clampsUnlimitedAndOversizedLimits() {
        #expect(EngineLimits.effectiveMessageLimit(Int.max) == EngineLimits.largestMessage)
        #expect(EngineLimits.effectiveMessageLimit(1 << 20) == 1 << 20)
        #expect(EngineLimits.effectiveMessageLimit(-5) == 0)
    }

    @Test func deflateDecode_withAnUnlimitedSize_inflatesWithoutOverflowingTheLimit() throws {
        let client = try ClientDeflater()
        var input = ByteBuffer(string: String(repeating: "wsgate ", count: 100))
        var out = ByteBuffer()
        out.reserveCapacity(client.compressor.maxSize(from: input))
        try client.compressor.deflate(from: &input, to: &out, flush: .sync)
        out.moveWriterIndex(to: out.writerIndex - 4)
        let server = try PerMessageDeflateTransformTests().session()
        let decoded = try server.decode(out, reservedBits: 0b100, maxSize: Int.max)
        #expect(decoded.readableBytes == 700)
    }
}
