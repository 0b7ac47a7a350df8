import ConversationTesting
import GatewayConfig
import Testing
import WebSocketEngine

@Suite struct StepMatcherTests {
    @Test func text_matchesOnlyTheSameTextMessage() {
        #expect(StepMatcher.matches(.text("hi"), .text("hi")))
        #expect(!StepMatcher.matches(.text("hi"), .text("hi!")))
        #expect(!StepMatcher.matches(.text("hi"), .binary(Array("hi".utf8))))
        #expect(!StepMatcher.matches(.text("hi"), .close(CloseReason(.normal))))
    }

    @Test func regex_mustMatchTheWholeText() {
        #expect(StepMatcher.matches(.regex("Hi, .+!"), .text("Hi, JetBrains!")))
        #expect(!StepMatcher.matches(.regex("Hi"), .text("Hi, JetBrains!")))
        #expect(StepMatcher.matches(.regex("user[0-9]+"), .text("user12")))
        #expect(!StepMatcher.matches(.regex("."), .binary([0x41])))
    }

    @Test func bytes_matchTheKindOfMessageTheyName() {
        #expect(StepMatcher.matches(.bytes([0, 255], isText: false), .binary([0, 255])))
        #expect(!StepMatcher.matches(.bytes([0, 255], isText: true), .binary([0, 255])))
        #expect(StepMatcher.matches(.bytes([0x68, 0x69], isText: true), .text("hi")))
        #expect(!StepMatcher.matches(.bytes([0, 255], isText: false), .binary([0, 255, 1])))
    }

    @Test func close_checksCodeAndReasonOnlyWhenGiven() {
        let bye = Frame.close(CloseReason(.normal, "Client said BYE"))
        #expect(StepMatcher.matchesClose(code: nil, reason: nil, bye))
        #expect(StepMatcher.matchesClose(code: 1000, reason: nil, bye))
        #expect(StepMatcher.matchesClose(code: 1000, reason: "Client said BYE", bye))
        #expect(!StepMatcher.matchesClose(code: 1001, reason: nil, bye))
        #expect(!StepMatcher.matchesClose(code: 1000, reason: "bye", bye))
        #expect(!StepMatcher.matchesClose(code: nil, reason: nil, .text("bye")))
        #expect(StepMatcher.matchesClose(code: 1005, reason: nil, .close(nil)))
    }

    @Test func descriptions_readLikeTheFile() {
        #expect(StepMatcher.describe(Step.Expectation.text("say \"hi\"\n")) == #"text "say \"hi\"\n""#)
        #expect(StepMatcher.describe(Step.Expectation.regex("Hi, .*")) == "text matching /Hi, .*/")
        #expect(StepMatcher.describe(Step.Expectation.bytes([0xCA, 0xFE], isText: false)) == "binary ca fe")
        #expect(StepMatcher.describeClose(code: 1000, reason: "bye") == #"close 1000 "bye""#)
        #expect(StepMatcher.describeClose(code: nil, reason: nil) == "close")
        #expect(StepMatcher.describe(Frame.close(CloseReason(.goingAway))) == "close 1001")
        #expect(StepMatcher.describe(Frame.close(nil)) == "close without a code")
        #expect(StepMatcher.describe(Frame.binary([])) == "binary (empty)")
        #expect(StepMatcher.describe(Frame.text(.init(bytes: [0x97, 0x9A]))) == "text (not UTF-8) 97 9a")
        #expect(StepMatcher.describe(.milliseconds(200)) == "200ms")
        #expect(StepMatcher.describe(.seconds(5)) == "5s")
        #expect(StepMatcher.describe(.seconds(120)) == "2m")
    }

    @Test func longPayloads_areCutInTheReport() {
        let long = StepMatcher.describe(Frame.text(String(repeating: "a", count: 1000)))
        #expect(long.hasSuffix("\"… (1000 bytes)"))
        #expect(long.count < 230)
        #expect(StepMatcher.describe(Frame.binary([UInt8](repeating: 7, count: 500))).hasSuffix("… (500 bytes)"))
    }
}
