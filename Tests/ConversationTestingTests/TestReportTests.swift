import ConversationTesting
import GatewayConfig
import Testing

private let location = SourceLocation(file: "tests/echo.test.yaml", line: 9, column: 5)
private let passed = ConversationResult(name: "greets", file: "tests/greet.test.yaml", duration: .milliseconds(12))
private let failed = ConversationResult(
    name: "answers <politely>", file: "tests/echo.test.yaml", duration: .milliseconds(5010),
    failure: .init(
        location: location, summary: "step 3 (expect)", expected: #"text "Hi & bye""#, actual: #"text "Hi""#))
private let invalid = ConversationResult(
    name: "bad.test.yaml", file: "tests/bad.test.yaml", duration: .zero,
    failure: .init(
        invalid: [
            ConfigDiagnostic(
                .error, SourceLocation(file: "tests/bad.test.yaml", line: 3, column: 5), "unknown key 'sned'",
                hint: "did you mean 'send'?")
        ], file: "tests/bad.test.yaml"))

@Suite struct TestReportTests {
    @Test func aPassingConversation_isOneLine() {
        #expect(TestReport.lines(for: passed) == ["ok    tests/greet.test.yaml: greets (0.01s)"])
    }

    @Test func aFailingConversation_showsWhereWhatWasExpectedAndWhatCame() {
        #expect(
            TestReport.lines(for: failed) == [
                "FAIL  tests/echo.test.yaml: answers <politely> (5.01s)",
                "      tests/echo.test.yaml:9:5: step 3 (expect)",
                #"        expected: text "Hi & bye""#,
                #"        actual:   text "Hi""#,
            ])
    }

    @Test func anInvalidFile_listsItsProblems() {
        #expect(
            TestReport.lines(for: invalid) == [
                "FAIL  tests/bad.test.yaml: bad.test.yaml (0.00s)",
                "      tests/bad.test.yaml:3:5: invalid conversation file (1 problem)",
                "        tests/bad.test.yaml:3:5: error: unknown key 'sned'; did you mean 'send'?",
            ])
    }

    @Test func summary_countsPassedAndFailed() {
        #expect(TestReport.summary([passed, failed, invalid]) == "1 passed, 2 failed")
        #expect(TestReport.summary([]) == "0 passed, 0 failed")
    }

    @Test func junit_hasATestcasePerConversation_failuresAndErrors() {
        let xml = JUnitReport.xml([passed, failed, invalid])
        #expect(
            xml == """
                <?xml version="1.0" encoding="UTF-8"?>
                <testsuites name="wsgate test" tests="3" failures="1" errors="1" time="5.022">
                  <testsuite name="wsgate test" tests="3" failures="1" errors="1" time="5.022">
                    <testcase name="greets" classname="tests.greet.test" file="tests/greet.test.yaml" time="0.012"/>
                    <testcase name="answers &lt;politely&gt;" classname="tests.echo.test" file="tests/echo.test.yaml" time="5.010">
                      <failure message="step 3 (expect): expected text &quot;Hi &amp; bye&quot;, got text &quot;Hi&quot;" type="step">tests/echo.test.yaml:9:5: step 3 (expect)
                expected: text &quot;Hi &amp; bye&quot;
                actual:   text &quot;Hi&quot;</failure>
                    </testcase>
                    <testcase name="bad.test.yaml" classname="tests.bad.test" file="tests/bad.test.yaml" time="0.000">
                      <error message="invalid conversation file (1 problem)" type="invalid">tests/bad.test.yaml:3:5: invalid conversation file (1 problem)
                tests/bad.test.yaml:3:5: error: unknown key 'sned'; did you mean 'send'?</error>
                    </testcase>
                  </testsuite>
                </testsuites>

                """)
    }

    @Test func junit_replacesCharactersXMLCannotHold() {
        let result = ConversationResult(
            name: "bell \u{7} here", file: "t.test.yaml", duration: .zero,
            failure: .init(location: location, summary: "s", actual: "a\u{0}b"))
        let xml = JUnitReport.xml([result])
        #expect(xml.contains("name=\"bell \u{FFFD} here\""))
        #expect(xml.contains("actual:   a\u{FFFD}b"))
        #expect(!xml.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }
}
