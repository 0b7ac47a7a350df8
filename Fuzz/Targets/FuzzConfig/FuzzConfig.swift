import FuzzSupport
import GatewayConfig

// The configuration loader: any text gives a configuration or diagnostics, each at a line and column of
// the text, never a crash.

/// `${…}` in values reads this environment only, so runs do not depend on the machine.
let environment = ["PORT": "8080", "HOST": "127.0.0.1", "EMPTY": "", "SECRET": "s3cret"]

@main
enum FuzzConfig {
    static func main() { FuzzDriver.run(testOneInput) }
}

/// One input (libFuzzer's `LLVMFuzzerTestOneInput`).
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: FuzzInput(start, count).bytes, as: UTF8.self)
    let file = "fuzz.yaml"
    do {
        let loaded = try ConfigLoader.parse(
            yaml: text, file: file, baseDirectory: "/nonexistent/fuzz", environment: environment)
        check(loaded.warnings, in: text, file: file, errorsAllowed: false)
        fuzzCheck(!loaded.configuration.endpoints.isEmpty, "a configuration without endpoints loaded")
    } catch {
        fuzzCheck(!error.diagnostics.isEmpty, "refused without a diagnostic")
        fuzzCheck(error.diagnostics.contains { $0.severity == .error }, "refused without an error")
        check(error.diagnostics, in: text, file: file, errorsAllowed: true)
    }
    return 0
}

func check(_ diagnostics: [ConfigDiagnostic], in text: String, file: String, errorsAllowed: Bool) {
    for diagnostic in diagnostics {
        fuzzCheck(errorsAllowed || diagnostic.severity == .warning, "loaded despite '\(diagnostic)'")
        fuzzCheck(diagnostic.location.file == file, "diagnostic names file \(diagnostic.location.file)")
        fuzzCheck(
            isPlace(line: diagnostic.location.line, column: diagnostic.location.column, in: text),
            "diagnostic at \(diagnostic.location) is not a place in the text: \(diagnostic)")
        fuzzCheck(!diagnostic.message.isEmpty, "diagnostic without a message")
    }
}
