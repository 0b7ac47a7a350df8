/// Applies (or removes: the operation is its own inverse) a WebSocket masking key in place.
///
/// `offset` is how many payload bytes of this frame came before `bytes`, so a payload
/// that arrives in several chunks is unmasked with the right key rotation.
package func applyMask(_ key: (UInt8, UInt8, UInt8, UInt8), to bytes: UnsafeMutableRawBufferPointer, offset: Int) {
    let keyBytes = [key.0, key.1, key.2, key.3]
    let count = bytes.count
    guard count > 0, let base = bytes.baseAddress else { return }
    // A 64-bit word of the key rotated so that its first byte lines up with `offset`.
    var word: UInt64 = 0
    for i in 0..<8 {
        word |= UInt64(keyBytes[(offset + i) & 3]) << (UInt64(i) * 8)
    }
    if !isLittleEndian { word = word.byteSwapped }
    var index = 0
    while index + 8 <= count {
        let value = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        base.storeBytes(of: value ^ word, toByteOffset: index, as: UInt64.self)
        index += 8
    }
    while index < count {
        bytes[index] ^= keyBytes[(offset + index) & 3]
        index += 1
    }
}

private let isLittleEndian: Bool = 1.littleEndian == 1
