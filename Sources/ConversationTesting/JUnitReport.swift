/// The results as JUnit XML (`wsgate test --junit FILE`), the format CI systems read: one `testcase`
/// per conversation, a `failure` for a step that did not get what it expected, an `error` for a
/// conversation file that cannot run.
public enum JUnitReport {
    /// The XML document.
    public static func xml(_ results: [ConversationResult], suiteName: String = "wsgate test") -> String {
        let failures = results.filter { $0.failure?.kind == .step }.count
        let errors = results.filter { $0.failure?.kind == .invalid }.count
        let total = results.reduce(Duration.zero) { $0 + $1.duration }
        let counts =
            "tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"\(errors)\" time=\"\(TestReport.seconds(total, decimals: 3))\""
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<testsuites name=\"\(escape(suiteName))\" \(counts)>\n"
        xml += "  <testsuite name=\"\(escape(suiteName))\" \(counts)>\n"
        for result in results {
            let attributes =
                "name=\"\(escape(result.name))\" classname=\"\(escape(className(result.file)))\" file=\"\(escape(result.file))\" time=\"\(TestReport.seconds(result.duration, decimals: 3))\""
            guard let failure = result.failure else {
                xml += "    <testcase \(attributes)/>\n"
                continue
            }
            let element = failure.kind == .step ? "failure" : "error"
            var message = failure.summary
            var body = "\(failure.location): \(failure.summary)"
            if let expected = failure.expected {
                message += ": expected \(expected)"
                body += "\nexpected: \(expected)"
            }
            if let actual = failure.actual {
                message += ", got \(actual)"
                body += "\nactual:   \(actual)"
            }
            for note in failure.notes { body += "\n\(note)" }
            xml += "    <testcase \(attributes)>\n"
            xml += "      <\(element) message=\"\(escape(message))\" type=\"\(failure.kind.rawValue)\">"
            xml += "\(escape(body, inAttribute: false))</\(element)>\n"
            xml += "    </testcase>\n"
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }

    /// `examples/tests/echo.test.yaml` → `examples.tests.echo.test`: the dotted name CI tools group by.
    static func className(_ file: String) -> String {
        var name = file
        for suffix in [".yaml", ".yml"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
        }
        while name.hasPrefix("./") { name.removeFirst(2) }
        return name.split(separator: "/", omittingEmptySubsequences: false).joined(separator: ".")
    }

    /// Text safe in XML attributes and content; control characters XML 1.0 cannot hold become U+FFFD.
    static func escape(_ text: String, inAttribute: Bool = true) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "\n": escaped += inAttribute ? "&#10;" : "\n"
            case "\t", "\r": escaped.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                escaped += "\u{FFFD}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
