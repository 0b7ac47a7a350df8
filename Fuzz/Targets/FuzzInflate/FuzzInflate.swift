import FuzzSupport
import NIOCore
import WebSocketEngine

// permessage-deflate inflate under limits, through the public extension API as a session uses it.
//
// Input: flags, size-limit byte, then messages, each a 2-byte big-endian length and that many bytes.
//   flags bit 0: client_no_context_takeover negotiated (the decompressor resets after each message)
//   flags bit 1: small maxSize (size-limit byte * 16) instead of "unlimited"
//   flags bits 2-5: compression level of the round trip (0-9; larger values clamp to 9)
//
// Every message is inflated as a peer's compressed message: the result never exceeds maxSize and a bad
// stream is an error, never a crash. Every message is also compressed by one session and inflated by
// another (both keeping their context across messages): the bytes must come back unchanged.

/// "Unlimited", as `max_message_size: unlimited` means it (decoding still stops at the engine's largest
/// message).
let unlimitedSize = Int.max

@main
enum FuzzInflate {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let limitByte = Int(input.byte())
    let maxSize = flags & 2 != 0 ? limitByte * 16 : unlimitedSize
    var offer = WebSocketExtensionOffer(name: "permessage-deflate")
    if flags & 1 != 0 { offer.parameters.append(.init("client_no_context_takeover")) }
    let resets = flags & 1 != 0
    let configuration = PerMessageDeflateConfiguration(
        compressionLevel: Int(flags >> 2) & 0xF, compressMinSize: 0, clientNoContextTakeover: resets)
    let factory = PerMessageDeflateFactory(configuration)
    // The sending side stands for the client: it resets its compressor after each message exactly when
    // the receiver was told the client would (client_no_context_takeover).
    var senderConfiguration = configuration
    senderConfiguration.serverNoContextTakeover = resets
    guard let inflater = factory.negotiate(offers: [offer]), let receiver = factory.negotiate(offers: [offer]),
        let sender = PerMessageDeflateFactory(senderConfiguration).negotiate(offers: [offer])
    else { fuzzFail("permessage-deflate declined a plain offer") }

    var messages: [[UInt8]] = []
    while !input.remaining.isEmpty {
        messages.append(input.take(Int(input.uint16())))
    }

    var roundTripBroken = false
    for message in messages {
        // A peer's compressed message.
        do {
            let output = try inflater.decode(ByteBuffer(bytes: message), reservedBits: 0b100, maxSize: maxSize)
            fuzzCheck(output.readableBytes <= maxSize, "inflated \(output.readableBytes) bytes over maxSize \(maxSize)")
        } catch {
            // Refused: the stream is bad or too big. Both are answers.
        }

        // Our own compression must inflate back to the same bytes (while both contexts stay in step).
        guard !roundTripBroken else { continue }
        let plain = ByteBuffer(bytes: message)
        let encoded: ByteBuffer
        let bits: UInt8
        do {
            (encoded, bits) = try sender.encode(plain, isText: false)
        } catch {
            fuzzFail("compressing \(message.count) bytes failed: \(error)")
        }
        guard bits != 0 else {
            fuzzCheck(encoded == plain, "an uncompressed message was changed")
            continue
        }
        do {
            let decoded = try receiver.decode(encoded, reservedBits: bits, maxSize: maxSize)
            fuzzCheck(decoded == plain, "round trip changed a message of \(message.count) bytes")
        } catch let error as WebSocketExtensionError where error == .messageTooBig {
            fuzzCheck(message.count > maxSize, "round trip of \(message.count) bytes refused under \(maxSize)")
            // The receiver's context is now behind the sender's: stop comparing.
            roundTripBroken = true
        } catch {
            fuzzFail("inflating our own compression failed: \(error)")
        }
    }
    return 0
}
