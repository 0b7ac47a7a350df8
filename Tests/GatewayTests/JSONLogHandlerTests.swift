import Foundation
import Gateway
import Logging
import NIOConcurrencyHelpers
import Testing

@Suite struct JSONLogHandlerTests {
    @Test func eachEvent_isOneJSONObjectLine_withMetadataAsFields() throws {
        let lines = NIOLockedValueBox<[String]>([])
        var handler = JSONLogHandler(label: "wsgate") { line in lines.withLockedValue { $0.append(line) } }
        handler.logLevel = .info
        handler[metadataKey: "endpoint"] = "/echo"
        let logger = Logger(label: "wsgate") { _ in handler }
        logger.debug("not shown")
        logger.info("connection \"closed\"\n", metadata: ["code": "1000", "reason": "tab\there \u{1}"])
        let written = lines.withLockedValue { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n") && !line.dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "info")
        #expect(object["logger"] == "wsgate")
        #expect(object["message"] == "connection \"closed\"\n")
        #expect(object["endpoint"] == "/echo")
        #expect(object["code"] == "1000")
        #expect(object["reason"] == "tab\there \u{1}")
        let time = try #require(object["time"])
        #expect(time.count == 24 && time.hasSuffix("Z"))
    }
}
