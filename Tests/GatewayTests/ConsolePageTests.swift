import Foundation
import Gateway
import Testing

@Suite struct ConsolePageTests {
    static let opening = #"<script type="application/json" id="endpoints">"#

    /// The text between the endpoints `<script>` element's tags.
    func embeddedJSON(_ page: String) throws -> String {
        let start = try #require(page.range(of: Self.opening))
        let end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
        return String(page[start.upperBound..<end.lowerBound])
    }

    /// The embedded list, decoded as a browser's `JSON.parse` would.
    func decodedEndpoints(_ page: String) throws -> [[String: Any]] {
        let json = try embeddedJSON(page)
        return try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
    }

    @Test func embedsTheEndpointsAsJSON() throws {
        let page = ConsolePage.html(
            endpoints: [
                ConsoleEndpoint(path: "/echo", type: "echo"),
                ConsoleEndpoint(path: "/rooms/{room}", type: "broadcast", subprotocols: ["chat.v1", "chat.v2"]),
            ],
            version: "1.2.3"
        )
        #expect(page.hasPrefix("<!doctype html>"))
        #expect(
            try embeddedJSON(page)
                == #"[{"path":"/echo","type":"echo","subprotocols":[]},"#
                + #"{"path":"/rooms/{room}","type":"broadcast","subprotocols":["chat.v1","chat.v2"]}]"#
        )
        #expect(page.contains(#"<span class="version">1.2.3</span>"#))
        #expect(page.contains(#"id="log""#) && page.contains(#"id="state""#))
    }

    @Test func emptyListIsAnEmptyArray() throws {
        #expect(try embeddedJSON(ConsolePage.html(endpoints: [], version: "")) == "[]")
    }

    @Test func pathsCannotBreakOutOfTheScriptElement() throws {
        let hostile = "/x</script><script>alert(1)</script><!--"
        let odd = "/q\"uote\\back\nline\u{2028}\u{7}&amp;>"
        let page = ConsolePage.html(
            endpoints: [ConsoleEndpoint(path: hostile, type: "echo<b>"), ConsoleEndpoint(path: odd, type: "echo")],
            version: "<img src=x onerror=alert(1)>"
        )
        let json = try embeddedJSON(page)
        #expect(!json.contains("<") && !json.contains(">") && !json.contains("&"))
        #expect(json.contains(#"/x\u003c/script\u003e"#))
        #expect(!page.contains("<script>alert"))
        #expect(!page.contains("<img"))
        #expect(page.contains("&lt;img src=x onerror=alert(1)&gt;"))
        // Exactly two script elements: the data and the code.
        #expect(page.components(separatedBy: "</script>").count == 3)
        // And the data still decodes to what was configured.
        let decoded = try decodedEndpoints(page)
        #expect(decoded.map { $0["path"] as? String } == [hostile, odd])
        #expect(decoded.first?["type"] as? String == "echo<b>")
    }

    @Test func referencesNothingOutsideThePage() throws {
        let page = ConsolePage.html(endpoints: [ConsoleEndpoint(path: "/echo", type: "echo")], version: "1")
        #expect(!page.contains("http://"))
        #expect(!page.contains("https://"))
        #expect(!page.contains("src="))
        #expect(!page.contains("@import"))
        #expect(!page.contains("url("))
        // The only link is the empty inline favicon, which keeps browsers from asking for /favicon.ico.
        let hrefs = page.components(separatedBy: "href=").dropFirst().map { $0.prefix(7) }
        #expect(hrefs == [#""data:,"#])
        #expect(page.contains("default-src 'none'"))
    }

    /// `node` on the PATH, when installed (scripts/setup-test-tools installs Debian's nodejs).
    static let node: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":")
        .map { "\($0)/node" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: node != nil, "node is not installed"))
    func scriptParsesAsJavaScript() throws {
        let page = ConsolePage.html(endpoints: [ConsoleEndpoint(path: "/echo", type: "echo")], version: "1")
        let start = try #require(page.range(of: "<script>\n", options: .backwards))
        let end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
        let script = String(page[start.upperBound..<end.lowerBound])
        #expect(script.hasPrefix("\"use strict\";"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-console-\(UUID()).js")
        try Data(script.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = Process()
        check.executableURL = URL(fileURLWithPath: try #require(Self.node))
        check.arguments = ["--check", file.path]
        let errors = Pipe()
        check.standardError = errors
        try check.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "node --check: \(message)")
    }

    @Test func stylesheetAndScriptAreInThePage() throws {
        let page = ConsolePage.html(endpoints: [], version: "")
        #expect(!page.contains("{{"))
        #expect(page.contains("<style>\n:root {"))
        #expect(page.contains("})();\n</script>\n</body>\n</html>\n"))
    }
}
