/// Sizes the engine itself can hold, whatever the configured limits say.
///
/// A peer's length field is a claim, not a size: the engine checks it against the configured limit and
/// against these ceilings, and never allocates from it. Payload bytes live in `ByteBuffer`s, whose
/// capacity is a `UInt32`; the ceiling keeps a margin below that, so growing a buffer by doubling or
/// adding a few bytes of framing can never trap.
package enum EngineLimits {
    /// The largest message (and frame payload) a session can receive or send compressed: 2 GiB − 1.
    /// A configured `unlimited` means this; a frame or message claiming more closes with 1009.
    package static let largestMessage = Int(Int32.max)

    /// The configured message limit the engine enforces: `configured`, or ``largestMessage`` when that
    /// is smaller (`Int.max`, "unlimited", included).
    package static func effectiveMessageLimit(_ configured: Int) -> Int {
        max(0, min(configured, largestMessage))
    }
}
