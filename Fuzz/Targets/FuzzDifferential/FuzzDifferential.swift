import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOWebSocket
import WebSocketEngine

// Differential: our `FrameParser` against SwiftNIO's `WebSocketFrameDecoder` on the same bytes.
//
// Input: flags, limit byte, then the stream.
//   flags bit 0: role client (our parser refuses masked frames) instead of server (refuses unmasked)
//   flags bit 1: RSV1 allowed (as with permessage-deflate negotiated)
//   flags bits 2-3: max frame size: limit byte * 4, 125, 65535 or UInt32.max (NIO's largest)
//
// Frame by frame, both accept the same frames with the same fin, reserved bits, opcode, masking key and
// unmasked payload, until one of them refuses. Where only ours refuses (or refuses earlier), it is for a
// rule NIO's decoder leaves to the layers above it (see `Divergence`); where NIO refuses, ours refuses
// the same frame. docs/fuzzing.md lists the intended divergences.

/// A frame as both parsers report it.
struct ParsedFrame: Equatable {
    var fin: Bool
    var reserved: UInt8
    var opcode: UInt8
    var maskingKey: [UInt8]?
    var payload: [UInt8]
}

@main
enum FuzzDifferential {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let limitByte = Int(input.byte())
    let stream = input.rest()
    let role: FrameParser.Role = flags & 1 != 0 ? .client : .server
    let allowed: ReservedBits = flags & 2 != 0 ? ReservedBits(rawValue: 0b100) : []
    let maxFrameSize = [limitByte * 4, 125, 65535, Int(UInt32.max)][Int(flags >> 2) & 3]

    let ours = parseWithOurs(stream, role: role, maxFrameSize: maxFrameSize, allowed: allowed)
    let theirs = parseWithNIO(stream, maxFrameSize: maxFrameSize)

    let agreed = min(ours.frames.count, theirs.frames.count)
    for index in 0..<agreed {
        fuzzCheck(
            ours.frames[index] == theirs.frames[index],
            "frame \(index): ours \(ours.frames[index]), NIO \(theirs.frames[index])")
    }
    if ours.frames.count > theirs.frames.count {
        // NIO stopped at a frame ours accepted: NIO checks nothing ours does not.
        fuzzFail("NIO refused (\(String(describing: theirs.error))) frame \(agreed) that ours accepted")
    }
    if theirs.frames.count > ours.frames.count {
        // Ours refused a frame NIO accepted: only for a rule NIO leaves to the layers above.
        guard let violation = ours.error else { fuzzFail("ours stopped at frame \(agreed) without an error") }
        let frame = theirs.frames[agreed]
        fuzzCheck(
            Divergence.explains(violation, frame: frame, role: role, allowed: allowed),
            "ours refused frame \(agreed) (\(violation)) that NIO accepted: \(frame)")
        return 0
    }
    // Same number of frames: both refused the next one, or one refused and the other wants more bytes.
    switch (ours.error, theirs.error) {
    case (nil, nil), (.some, .some):
        break
    case (nil, .some(let error)):
        fuzzFail("NIO refused frame \(agreed) (\(error)) and ours wants more bytes")
    case (.some(let violation), nil):
        // NIO validates a header only once its length field is complete; ours fails at the first byte
        // that shows the problem. A rule NIO does not check at all is a divergence whatever follows.
        let rest = stream[ours.offsets[agreed]...]
        if Divergence.isUncheckedByNIO(violation) { break }
        if case .controlFrameTooLong = violation, let length = extendedLength(rest), length <= 125 { break }
        fuzzCheck(
            rest.count < headerBytesBeforeValidation(rest),
            "ours refused frame \(agreed) (\(violation)); NIO had its header and wants more bytes")
    }
    return 0
}

/// The rules ours enforces in the frame parser and NIO's `WebSocketFrameDecoder` does not.
enum Divergence {
    /// NIO leaves masking (by role), reserved bits and reserved opcodes to the layers above the decoder.
    static func isUncheckedByNIO(_ violation: ProtocolViolation) -> Bool {
        switch violation {
        case .unmaskedClientFrame, .maskedServerFrame, .reservedBitsSet, .reservedOpcode: return true
        default: return false
        }
    }

    /// Whether `violation` is an unchecked rule that `frame` (as NIO decoded it) really breaks.
    static func explains(
        _ violation: ProtocolViolation, frame: ParsedFrame, role: FrameParser.Role, allowed: ReservedBits
    ) -> Bool {
        switch violation {
        case .unmaskedClientFrame: return role == .server && frame.maskingKey == nil
        case .maskedServerFrame: return role == .client && frame.maskingKey != nil
        case .reservedBitsSet:
            let isControlOrContinuation = frame.opcode == 0 || frame.opcode >= 8
            return frame.reserved & ~allowed.rawValue != 0 || (frame.reserved != 0 && isControlOrContinuation)
        case .reservedOpcode(let opcode):
            return opcode == frame.opcode && [3, 4, 5, 6, 7, 11, 12, 13, 14, 15].contains(opcode)
        case .controlFrameTooLong:
            // A control frame's length in 16 or 64 bits: ours refuses the length field (RFC 6455 §5.2
            // wants the minimal encoding), NIO the decoded length only above 125.
            return frame.opcode >= 8 && frame.payload.count <= 125
        default: return false
        }
    }
}

/// Bytes NIO reads of a header before it checks the length and control-frame rules: the first two and
/// the extended length.
func headerBytesBeforeValidation(_ bytes: ArraySlice<UInt8>) -> Int {
    guard bytes.count >= 2 else { return 2 }
    switch bytes[bytes.startIndex + 1] & 0x7F {
    case 126: return 4
    case 127: return 10
    default: return 2
    }
}

/// The length in a header's 16- or 64-bit length field, when the field is there.
func extendedLength(_ bytes: ArraySlice<UInt8>) -> UInt64? {
    guard bytes.count >= 2 else { return nil }
    let start = bytes.startIndex + 2
    switch bytes[bytes.startIndex + 1] & 0x7F {
    case 126 where bytes.count >= 4:
        return bytes[start..<start + 2].reduce(0) { $0 << 8 | UInt64($1) }
    case 127 where bytes.count >= 10:
        return bytes[start..<start + 8].reduce(0) { $0 << 8 | UInt64($1) }
    default:
        return nil
    }
}

func parseWithOurs(_ stream: [UInt8], role: FrameParser.Role, maxFrameSize: Int, allowed: ReservedBits)
    -> (frames: [ParsedFrame], offsets: [Int], error: ProtocolViolation?)
{
    var parser = FrameParser(role: role, maxFrameSize: maxFrameSize, allowedReservedBits: allowed)
    var buffer = ByteBuffer(bytes: stream)
    var frames: [ParsedFrame] = []
    var offsets: [Int] = [0]
    var current: ParsedFrame?
    while true {
        let event: FrameParser.Event?
        do {
            event = try parser.next(from: &buffer)
        } catch {
            return (frames, offsets, error)
        }
        switch event {
        case nil:
            return (frames, offsets, nil)
        case .header(let header):
            current = ParsedFrame(
                fin: header.fin, reserved: header.reserved.rawValue, opcode: header.opcode.rawValue,
                maskingKey: header.maskingKey.map { [$0.0, $0.1, $0.2, $0.3] }, payload: [])
        case .payload(let chunk):
            current?.payload += chunk.readableBytesView
        case .end:
            guard let frame = current else { fuzzFail("frame end without a header") }
            frames.append(frame)
            offsets.append(buffer.readerIndex)
            current = nil
        }
    }
}

func parseWithNIO(_ stream: [UInt8], maxFrameSize: Int) -> (frames: [ParsedFrame], error: (any Error)?) {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    var error: (any Error)?
    do {
        try channel.writeInbound(ByteBuffer(bytes: stream))
    } catch let caught {
        error = caught
    }
    var frames: [ParsedFrame] = []
    while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
        let reserved = (frame.rsv1 ? 0b100 : 0) | (frame.rsv2 ? 0b010 : 0) | (frame.rsv3 ? 0b001 : 0) as UInt8
        frames.append(
            ParsedFrame(
                fin: frame.fin, reserved: reserved, opcode: UInt8(webSocketOpcode: frame.opcode),
                maskingKey: frame.maskKey.map { Array($0) }, payload: Array(frame.unmaskedData.readableBytesView)))
    }
    return (frames, error)
}
