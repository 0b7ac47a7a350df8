import FuzzSupport
import NIOCore
import WebSocketEngine

// The frame parser, the message assembler and the UTF-8 validator, through `ConnectionStateMachine`:
// one byte stream fed once whole and once in chunks must give the same actions, and every action must
// respect the limits and the RFC.
//
// Input: flags, frame-limit byte, message-limit byte, split seed (2 bytes), then the stream.
//   flags bit 0: role client (unmasked frames) instead of server (masked frames)
//   flags bit 1: RSV1 allowed (as with permessage-deflate negotiated)
//   flags bit 2: small max_frame_size (from the frame-limit byte) instead of unlimited
//   flags bit 3: small max_message_size (from the message-limit byte) instead of "unlimited"
//   flags bits 4-5: largest chunk: 1, 7, 64 or 4096 bytes

/// "Unlimited" message size: what `max_message_size: unlimited` means (the engine still stops at
/// `EngineLimits.largestMessage` with 1009, and buffers grow with the bytes that came, never with a claim).
let unlimitedMessageSize = Int.max

@main
enum FuzzFrames {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let frameLimitByte = Int(input.byte())
    let messageLimitByte = Int(input.byte())
    let seed = input.uint16()
    let stream = input.rest()

    let role: FrameParser.Role = flags & 1 != 0 ? .client : .server
    let reserved: ReservedBits = flags & 2 != 0 ? ReservedBits(rawValue: 0b100) : []
    let maxFrameSize = flags & 4 != 0 ? frameLimitByte * 3 : Int.max
    let maxMessageSize = flags & 8 != 0 ? messageLimitByte * 5 : unlimitedMessageSize
    let maxChunk = [1, 7, 64, 4096][Int(flags >> 4) & 3]

    func makeMachine() -> ConnectionStateMachine {
        ConnectionStateMachine(
            role: role, maxFrameSize: maxFrameSize, maxMessageSize: maxMessageSize, allowedReservedBits: reserved)
    }

    // Whole.
    var whole = makeMachine()
    var buffer = ByteBuffer(bytes: stream)
    var wholeActions: [ConnectionStateMachine.Action] = []
    while let action = whole.next(from: &buffer) { wholeActions.append(action) }

    // In chunks, as the channel handler feeds it: leftover bytes first, then the new chunk.
    var split = SplitGenerator(seed: UInt64(seed))
    var chunked = makeMachine()
    var pending = ByteBuffer()
    var chunkedActions: [ConnectionStateMachine.Action] = []
    for chunk in split.chunks(of: stream, maxChunk: maxChunk) {
        pending.writeBytes(chunk)
        while let action = chunked.next(from: &pending) { chunkedActions.append(action) }
        pending.discardReadBytes()
    }

    fuzzCheck(
        wholeActions == chunkedActions,
        "whole stream gave \(wholeActions), chunks gave \(chunkedActions)")
    fuzzCheck(whole.state == chunked.state, "whole ends \(whole.state), chunks end \(chunked.state)")
    fuzzCheck(whole.closeReason == chunked.closeReason, "close reasons differ")
    check(wholeActions, maxMessageSize: maxMessageSize, reserved: reserved)

    // The validator alone on the raw stream, whole and split, against the standard library.
    let expected = String(validating: stream, as: UTF8.self) != nil
    fuzzCheck(UTF8Validator.isValid(stream) == expected, "UTF8Validator disagrees with String(validating:)")
    var validator = UTF8Validator()
    var valid = true
    for chunk in split.chunks(of: stream, maxChunk: maxChunk) where valid {
        valid = chunk.withUnsafeBytes { validator.validate($0) }
    }
    fuzzCheck((valid && validator.isComplete) == expected, "chunked UTF8Validator disagrees with String(validating:)")
    return 0
}

/// The invariants of one action sequence.
func check(_ actions: [ConnectionStateMachine.Action], maxMessageSize: Int, reserved: ReservedBits) {
    var ended = false
    for action in actions {
        fuzzCheck(!ended, "action \(action) after the connection was given up")
        switch action {
        case .deliver(let message):
            fuzzCheck(message.data.readableBytes <= maxMessageSize, "message over max_message_size delivered")
            fuzzCheck(reserved.isSuperset(of: message.reserved), "message with reserved bits not negotiated")
            if message.kind == .text && message.reserved.isEmpty {
                fuzzCheck(
                    String(validating: message.data.readableBytesView, as: UTF8.self) != nil,
                    "text message that is not UTF-8 delivered")
            }
        case .sendPong(let payload), .receivedPong(let payload):
            fuzzCheck(payload.readableBytes <= 125, "control payload over 125 bytes")
        case .sendClose(let reason, let then):
            switch then {
            case .closeConnection:
                // The echo of the peer's close: a code valid on the wire, or none.
                fuzzCheck(
                    reason.code.isValidOnTheWire || reason.code == .noStatusReceived,
                    "echoed close code \(reason.code.rawValue)")
                fuzzCheck(
                    UTF8Validator.isValid(reason.message.utf8), "close reason is not UTF-8")
            case .shutdownOutput:
                let failureCodes: [CloseReason.Code] = [.protocolError, .invalidPayload, .messageTooBig]
                fuzzCheck(failureCodes.contains(reason.code), "failure close with code \(reason.code.rawValue)")
            case .awaitPeerClose:
                fuzzFail("the peer's bytes made us start a close handshake")
            }
            ended = true
        case .closeConnection:
            ended = true
        }
    }
}
