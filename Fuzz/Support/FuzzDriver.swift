import CLibFuzzer
import Foundation

/// Runs libFuzzer on a target's test function.
///
/// SwiftPM links an executable's `main` to its module's entry point, so the targets cannot use the `main`
/// libFuzzer ships: each has an `@main` that calls this, and libFuzzer's driver does the rest (flags,
/// corpus, crash reports) exactly as with its own `main`.
public enum FuzzDriver {
    /// A target's test function: one input, return 0 (libFuzzer's `LLVMFuzzerTestOneInput`).
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Hands the process to libFuzzer; exits with its status.
    public static func run(_ testOneInput: TestOneInput) -> Never {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }
}
