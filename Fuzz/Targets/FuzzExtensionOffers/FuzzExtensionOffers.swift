import FuzzSupport
import WebSocketEngine

// `Sec-WebSocket-Extensions` offer parsing (RFC 6455 §9.1) and permessage-deflate negotiation (RFC 7692).
//
// Input: flags, then header values separated by newlines.
//   flags bit 0: server_no_context_takeover configured; bit 1: client_no_context_takeover configured
//   flags bits 2-4: server_max_window_bits configured 8 + n; bits 5-7: client_max_window_bits 8 + n
//
// Parsed offers are tokens; writing them back and parsing again gives the same offers; a negotiated
// agreement answers with parameters RFC 7692 allows, in a header the parser reads back.

@main
enum FuzzExtensionOffers {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let flags = input.byte()
    let text = String(decoding: input.rest(), as: UTF8.self)
    let values = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

    guard let offers = ExtensionNegotiation.parseOffers(values) else { return 0 }
    for offer in offers {
        fuzzCheck(isToken(offer.name), "extension name '\(offer.name)' is not a token")
        for parameter in offer.parameters {
            fuzzCheck(isToken(parameter.name), "parameter name '\(parameter.name)' is not a token")
            if let value = parameter.value { fuzzCheck(isToken(value), "parameter value '\(value)' is not a token") }
        }
    }
    let written = offers.map(\.description).joined(separator: ", ")
    let reparsed = ExtensionNegotiation.parseOffers([written])
    fuzzCheck(reparsed == offers, "'\(written)' parses to \(String(describing: reparsed)), not \(offers)")

    let configuration = PerMessageDeflateConfiguration(
        serverNoContextTakeover: flags & 1 != 0,
        clientNoContextTakeover: flags & 2 != 0,
        serverMaxWindowBits: 8 + Int(flags >> 2) & 7,
        clientMaxWindowBits: 8 + Int(flags >> 5) & 7
    )
    let accepted = ExtensionNegotiation.negotiate(offers: offers, factories: [PerMessageDeflateFactory(configuration)])
    fuzzCheck(accepted.count <= 1, "one factory gave \(accepted.count) extensions")
    let pipeline = ExtensionPipeline(accepted)
    guard let header = pipeline.responseHeader else { return 0 }
    guard let answer = ExtensionNegotiation.parseOffers([header]), answer.count == 1, let response = answer.first
    else { fuzzFail("response header '\(header)' does not parse back to one entry") }
    fuzzCheck(response.name == "permessage-deflate", "response names '\(response.name)'")
    var seen: Set<String> = []
    for parameter in response.parameters {
        fuzzCheck(seen.insert(parameter.name).inserted, "response repeats \(parameter.name)")
        switch parameter.name {
        case "server_no_context_takeover", "client_no_context_takeover":
            fuzzCheck(parameter.value == nil, "\(parameter.name) with a value")
        case "server_max_window_bits":
            fuzzCheck(parameter.value.flatMap { Int($0) }.map { (9...15).contains($0) } == true, "server bits")
        case "client_max_window_bits":
            fuzzCheck(parameter.value.flatMap { Int($0) }.map { (8...15).contains($0) } == true, "client bits")
            // RFC 7692 §7.1.2.2: only when the client offered it.
            let offered = offers.contains { offer in
                offer.name.caseInsensitiveEquals("permessage-deflate")
                    && offer.parameters.contains { $0.name.lowercased() == "client_max_window_bits" }
            }
            fuzzCheck(offered, "client_max_window_bits answered to a client that did not offer it")
        default:
            fuzzFail("response parameter \(parameter.name)")
        }
    }
    return 0
}

/// `token` of RFC 9110 §5.6.2.
func isToken(_ text: String) -> Bool {
    !text.isEmpty
        && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
            }
        }
}
