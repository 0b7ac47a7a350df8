/// What `wsgate test` prints: a line per conversation, the details of each failure, and a final count.
public enum TestReport {
    /// The line for one conversation, and for a failure the lines under it:
    ///
    ///     FAIL  tests/echo.test.yaml: the echo greets (0.01s)
    ///           tests/echo.test.yaml:9:5: step 3 (expect)
    ///             expected: text "Hi, JetBrains!"
    ///             actual:   text "Hi, JetBrain!"
    public static func lines(for result: ConversationResult) -> [String] {
        let status = result.passed ? "ok  " : "FAIL"
        var lines = ["\(status)  \(result.file): \(result.name) (\(seconds(result.duration))s)"]
        if let failure = result.failure {
            lines.append("      \(failure.location): \(failure.summary)")
            if let expected = failure.expected { lines.append("        expected: \(expected)") }
            if let actual = failure.actual { lines.append("        actual:   \(actual)") }
            lines += failure.notes.map { "        \($0)" }
        }
        return lines
    }

    /// `N passed, N failed`.
    public static func summary(_ results: [ConversationResult]) -> String {
        let passed = results.filter(\.passed).count
        return "\(passed) passed, \(results.count - passed) failed"
    }

    /// Seconds with two decimals (`0.05`, `5.01`).
    static func seconds(_ duration: Duration) -> String {
        seconds(duration, decimals: 2)
    }

    static func seconds(_ duration: Duration, decimals: Int) -> String {
        let (whole, attoseconds) = duration.components
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let fraction = (attoseconds / (1_000_000_000_000_000_000 / scale))
        let digits = String(fraction)
        return "\(whole).\(String(repeating: "0", count: max(0, decimals - digits.count)))\(digits)"
    }
}
