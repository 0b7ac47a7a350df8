import FuzzSupport
import NIOCore
import WebSocketEngine

// The HTTP request-head parser and the opening handshake.
//
// Input: flags, head-size-limit byte, split seed (2 bytes), then the bytes a client sends.
//   flags bit 0: small head limit (limit byte * 8) instead of 16 KiB
//   flags bit 1: only origin https://example.com allowed (else any)
//   flags bits 2-3: largest chunk: 1, 7, 64 or 4096 bytes
//
// The head parses the same whole and in chunks; a parsed head is well formed; the handshake's answer
// is a well-formed HTTP response that no request byte can add a header line to.

@main
enum FuzzHTTP {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let limitByte = Int(input.byte())
    let seed = input.uint16()
    let bytes = input.rest()
    let maxSize = flags & 1 != 0 ? limitByte * 8 : 16 * 1024
    let maxChunk = [1, 7, 64, 4096][Int(flags >> 2) & 3]

    // Whole.
    var wholeParser = HTTPHeadParser(maxSize: maxSize)
    var buffer = ByteBuffer(bytes: bytes)
    let whole = Result { () throws(HTTPHeadError) in try wholeParser.parse(&buffer) }
    let wholeLeft = buffer.readableBytes

    // In chunks, as the connection handler feeds it.
    var split = SplitGenerator(seed: UInt64(seed))
    var parser = HTTPHeadParser(maxSize: maxSize)
    var pending = ByteBuffer()
    var chunked: Result<HTTPRequestHead?, HTTPHeadError> = .success(nil)
    var fed = 0
    for chunk in split.chunks(of: bytes, maxChunk: maxChunk) {
        pending.writeBytes(chunk)
        fed += chunk.count
        chunked = Result { () throws(HTTPHeadError) in try parser.parse(&pending) }
        if case .success(nil) = chunked { continue }
        break
    }
    switch (whole, chunked) {
    case (.success(let a), .success(let b)):
        fuzzCheck(a == b, "whole head \(String(describing: a)) differs from chunked \(String(describing: b))")
        if a != nil {
            fuzzCheck(
                wholeLeft == pending.readableBytes + bytes.count - fed, "whole and chunks consumed different bytes")
        }
    case (.failure(let a), .failure(let b)):
        fuzzCheck(a == b, "whole error \(a) differs from chunked error \(b)")
    default:
        fuzzFail("whole gave \(whole), chunks gave \(chunked)")
    }

    guard case .success(let parsed) = whole, let head = parsed else { return 0 }
    fuzzCheck(!head.method.isEmpty && !head.target.isEmpty, "empty method or target")
    for field in head.headers {
        fuzzCheck(!field.name.isEmpty && !field.name.contains(":"), "header name '\(field.name)'")
        fuzzCheck(!field.value.hasPrefix(" ") && !field.value.hasSuffix(" "), "untrimmed header value")
        fuzzCheck(!field.value.contains("\r\n"), "header value across lines")
    }

    let policy = HandshakePolicy(
        allowedOrigins: flags & 2 != 0 ? ["https://example.com"] : ["*"], subprotocols: ["chat", "v2.json"])
    let response: HTTPResponse
    switch Handshake.evaluate(head, policy: policy) {
    case .accept(let acceptKey, let subprotocol):
        fuzzCheck(head.method == "GET", "accepted a \(head.method) request")
        fuzzCheck(acceptKey.utf8.count == 28, "Sec-WebSocket-Accept '\(acceptKey)'")
        fuzzCheck(head.values("Sec-WebSocket-Key").count == 1, "accepted without exactly one key")
        if let subprotocol { fuzzCheck(policy.subprotocols.contains(subprotocol), "subprotocol not offered") }
        response = Handshake.switchingProtocols(acceptKey: acceptKey, subprotocol: subprotocol, extensions: nil)
    case .refuse(_, let refusal):
        fuzzCheck((400...599).contains(refusal.status), "refused with status \(refusal.status)")
        response = refusal
    }
    checkWellFormed(response)
    return 0
}

/// The response is one status line and `Name: value` lines with token names: nothing from the request
/// splits a line or starts a header of its own.
func checkWellFormed(_ response: HTTPResponse) {
    var buffer = ByteBuffer()
    response.write(into: &buffer)
    let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
    guard let end = text.range(of: "\r\n\r\n") else { fuzzFail("response head does not end") }
    let lines = text[..<end.lowerBound].split(separator: "\r\n", omittingEmptySubsequences: false)
    fuzzCheck(lines.first?.hasPrefix("HTTP/1.1 \(response.status) ") == true, "status line '\(lines.first ?? "")'")
    let tokenCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~")
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { fuzzFail("response header line '\(line)'") }
        fuzzCheck(
            !line[..<colon].isEmpty && line[..<colon].allSatisfy(tokenCharacters.contains),
            "response header name in '\(line)'")
        fuzzCheck(!line.contains("\n") && !line.contains("\r"), "bare CR or LF in response line '\(line)'")
    }
    let body = text[end.upperBound...]
    if response.status != 101 {
        fuzzCheck(text.contains("Content-Length: \(body.utf8.count)\r\n"), "Content-Length does not match the body")
    }
}
