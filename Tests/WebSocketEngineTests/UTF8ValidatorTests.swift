import Testing

@testable import WebSocketEngine

@Suite struct UTF8ValidatorTests {
    @Test(arguments: [
        "", "hello", "κόσμε", "日本語テキスト", "emoji 😀 and 𝄞", String(repeating: "ascii-", count: 50),
        "\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}",
    ])
    func validText_isAccepted(_ text: String) {
        #expect(UTF8Validator.isValid(Array(text.utf8)))
    }

    @Test(
        arguments: [
            ([0x80], "lone continuation byte"),
            ([0xC0, 0xAF], "overlong two-byte form"),
            ([0xC1, 0xBF], "overlong two-byte form"),
            ([0xE0, 0x80, 0xAF], "overlong three-byte form"),
            ([0xF0, 0x80, 0x80, 0xAF], "overlong four-byte form"),
            ([0xED, 0xA0, 0x80], "UTF-16 surrogate U+D800"),
            ([0xED, 0xBF, 0xBF], "UTF-16 surrogate U+DFFF"),
            ([0xF4, 0x90, 0x80, 0x80], "code point above U+10FFFF"),
            ([0xF5, 0x80, 0x80, 0x80], "byte F5 never appears"),
            ([0xFF], "byte FF never appears"),
            ([0xCE, 0xBA, 0xE1], "truncated three-byte sequence at the end"),
            ([0x61, 0xC3], "truncated two-byte sequence at the end"),
            ([0xE1, 0x80, 0x41], "ASCII inside a multi-byte sequence"),
        ] as [([UInt8], String)])
    func invalidText_isRejected(_ bytes: [UInt8], _ why: String) {
        #expect(!UTF8Validator.isValid(bytes), "\(why)")
    }

    @Test func validText_splitAtEveryByteBoundary_isAccepted() {
        let bytes = Array("κόσμε 😀 𝄞 日本 abcdefghijklmnop".utf8)
        for split in 0...bytes.count {
            var validator = UTF8Validator()
            let first = bytes[..<split].withUnsafeBytes { validator.validate($0) }
            let second = bytes[split...].withUnsafeBytes { validator.validate($0) }
            #expect(first && second && validator.isComplete, "split at \(split)")
        }
    }

    @Test func incompleteCharacter_atChunkEnd_isPendingNotInvalid() {
        var validator = UTF8Validator()
        #expect(([0xF0, 0x9F] as [UInt8]).withUnsafeBytes { validator.validate($0) })
        #expect(!validator.isComplete)
        #expect(([0x98, 0x80] as [UInt8]).withUnsafeBytes { validator.validate($0) })
        #expect(validator.isComplete)
    }

    @Test func invalidByte_failsInTheChunkWhereItAppears_beforeTheRestArrives() {
        // The Autobahn 6.4 pattern: a valid prefix, then a byte that can never be valid.
        var validator = UTF8Validator()
        #expect(Array("κόσμε".utf8).withUnsafeBytes { validator.validate($0) })
        #expect(!([0xF4, 0x90] as [UInt8]).withUnsafeBytes { validator.validate($0) })
    }

    @Test func longASCIIRun_withInvalidByteAfterFastPath_isRejected() {
        var bytes = Array(repeating: UInt8(ascii: "a"), count: 37)
        bytes.append(0xC0)
        bytes.append(0x80)
        #expect(!UTF8Validator.isValid(bytes))
    }
}
