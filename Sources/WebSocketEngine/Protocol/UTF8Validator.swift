/// Incremental UTF-8 validation (RFC 3629) that fails at the first invalid byte.
///
/// Feed the bytes of a message chunk by chunk, in any split; `isComplete` tells
/// whether the bytes so far end on a character boundary. Overlong forms,
/// surrogates (U+D800–U+DFFF) and code points above U+10FFFF are rejected.
package struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still expected for the current character.
    private var needed: UInt8 = 0
    /// Range allowed for the next continuation byte (narrower right after some lead bytes).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    package init() {}

    /// Whether the bytes seen so far end between two characters.
    package var isComplete: Bool { needed == 0 }

    /// Validates the next chunk; returns false as soon as a byte cannot continue valid UTF-8.
    package mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            if needed == 0 {
                // Fast path: skip ASCII eight bytes at a time.
                while index + 8 <= count {
                    let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index += 8
                }
                if index >= count { break }
                let byte = bytes[index]
                index += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: needed = 1; lower = 0x80; upper = 0xBF
                case 0xE0: needed = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2; lower = 0x80; upper = 0xBF
                case 0xED: needed = 2; lower = 0x80; upper = 0x9F
                case 0xF0: needed = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: needed = 3; lower = 0x80; upper = 0xBF
                case 0xF4: needed = 3; lower = 0x80; upper = 0x8F
                default: return false
                }
            } else {
                let byte = bytes[index]
                index += 1
                guard byte >= lower && byte <= upper else { return false }
                needed -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Validates the readable bytes of a buffer-like collection.
    package mutating func validate<Bytes: Sequence<UInt8>>(contentsOf bytes: Bytes) -> Bool {
        let result = bytes.withContiguousStorageIfAvailable { self.validate(UnsafeRawBufferPointer($0)) }
        if let result { return result }
        let array = Array(bytes)
        return array.withUnsafeBytes { self.validate($0) }
    }

    /// Validates a complete byte sequence in one go.
    package static func isValid<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(contentsOf: bytes) && validator.isComplete
    }
}
