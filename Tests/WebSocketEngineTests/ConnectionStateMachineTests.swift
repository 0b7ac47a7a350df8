import NIOCore
import Testing

@testable import WebSocketEngine

/// Feeds bytes to a server-side state machine and collects its actions.
struct MachineDriver {
    var machine: ConnectionStateMachine

    init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 4 << 20) {
        machine = ConnectionStateMachine(role: .server, maxFrameSize: maxFrameSize, maxMessageSize: maxMessageSize)
    }

    mutating func feed(_ buffers: ByteBuffer...) -> [ConnectionStateMachine.Action] {
        var actions: [ConnectionStateMachine.Action] = []
        for var buffer in buffers {
            while let action = machine.next(from: &buffer) { actions.append(action) }
        }
        return actions
    }
}

func text(_ string: String) -> ConnectionStateMachine.Action {
    .deliver(AssembledMessage(kind: .text, data: ByteBuffer(string: string), reserved: []))
}

func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
}

func failure(_ code: CloseReason.Code) -> (ConnectionStateMachine.Action) -> Bool {
    { action in
        if case .sendClose(let reason, .shutdownOutput) = action { return reason.code == code }
        return false
    }
}

@Suite struct ConnectionStateMachineTests {
    @Test func fragmentedText_isReassembled_andAPingInBetweenIsAnsweredFirst() {
        var driver = MachineDriver()
        let actions = driver.feed(
            rawFrame(opcode: 0x1, payload: Array("Hello, ".utf8), fin: false),
            rawFrame(opcode: 0x9, payload: Array("ping".utf8)),
            rawFrame(opcode: 0x0, payload: Array("world".utf8), fin: false),
            rawFrame(opcode: 0x0, payload: Array("!".utf8))
        )
        #expect(actions == [.sendPong(ByteBuffer(string: "ping")), text("Hello, world!")])
    }

    @Test func continuationWithoutAStart_fails1002() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x0, payload: [0x41]))
        #expect(actions.count == 1 && failure(.protocolError)(actions[0]))
    }

    @Test func newDataFrame_insideAFragmentedMessage_fails1002() {
        var driver = MachineDriver()
        let actions = driver.feed(
            rawFrame(opcode: 0x1, payload: [0x41], fin: false),
            rawFrame(opcode: 0x1, payload: [0x42])
        )
        #expect(actions.count == 1 && failure(.protocolError)(actions[0]))
    }

    @Test func invalidUTF8_splitAcrossFragments_failsAtTheFragmentHoldingTheBadByte() {
        var driver = MachineDriver()
        // κόσμε then F4 90 (above U+10FFFF) in the second fragment; a third fragment never comes.
        var actions = driver.feed(rawFrame(opcode: 0x1, payload: Array("κόσμε".utf8), fin: false))
        #expect(actions.isEmpty)
        actions = driver.feed(rawFrame(opcode: 0x0, payload: [0xF4, 0x90, 0x80, 0x80], fin: false))
        #expect(actions.count == 1 && failure(.invalidPayload)(actions[0]))
        #expect(driver.machine.state == .failed)
    }

    @Test func validUTF8_splitInsideACharacterAcrossFragments_isAccepted() {
        var driver = MachineDriver()
        let bytes = Array("😀".utf8)
        let actions = driver.feed(
            rawFrame(opcode: 0x1, payload: Array(bytes[0..<2]), fin: false),
            rawFrame(opcode: 0x0, payload: Array(bytes[2...]))
        )
        #expect(actions == [text("😀")])
    }

    @Test func textEndingInsideACharacter_fails1007() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x1, payload: [0x61, 0xE2, 0x82]))
        #expect(actions.count == 1 && failure(.invalidPayload)(actions[0]))
    }

    @Test func messageOverTheLimit_failsAtTheFrameHeader_with1009() {
        var driver = MachineDriver(maxFrameSize: 100, maxMessageSize: 150)
        var actions = driver.feed(rawFrame(opcode: 0x2, payload: Array(repeating: 1, count: 100), fin: false))
        #expect(actions.isEmpty)
        // The second fragment's header alone already exceeds 150 bytes in total.
        actions = driver.feed(ByteBuffer(bytes: [0x80, 0x80 | 60, 1, 2, 3, 4]))
        #expect(actions.count == 1 && failure(.messageTooBig)(actions[0]))
    }

    @Test func peerClose_isEchoed_andTheConnectionClosesAfterIt() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: closePayload(1000, Array("done".utf8))))
        #expect(actions == [.sendClose(CloseReason(.normal, "done"), then: .closeConnection)])
        #expect(driver.machine.closeReason == CloseReason(.normal, "done"))
    }

    @Test func emptyClose_isAnsweredWithoutACode() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: []))
        #expect(actions == [.sendClose(CloseReason(.noStatusReceived), then: .closeConnection)])
        #expect(FrameEncoder.closePayload(CloseReason(.noStatusReceived)).readableBytes == 0)
    }

    @Test(
        arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
            as [UInt16])
    func validCloseCodes_areEchoed(_ code: UInt16) {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: closePayload(code)))
        #expect(actions == [.sendClose(CloseReason(CloseReason.Code(code)), then: .closeConnection)])
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] as [UInt16])
    func invalidCloseCodes_fail1002(_ code: UInt16) {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: closePayload(code)))
        #expect(actions.count == 1 && failure(.protocolError)(actions[0]))
    }

    @Test func closeWithOneBytePayload_fails1002() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: [0x03]))
        #expect(actions.count == 1 && failure(.protocolError)(actions[0]))
    }

    @Test func closeReasonWithInvalidUTF8_fails1007() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0x8, payload: closePayload(1000, [0xCE, 0xBA, 0xE1, 0xBD])))
        #expect(actions.count == 1 && failure(.invalidPayload)(actions[0]))
    }

    @Test func applicationClose_waitsForThePeer_thenDataIsIgnoredAndTheReplyEndsIt() {
        var driver = MachineDriver()
        #expect(
            driver.machine.close(CloseReason(.normal, "bye"))
                == .sendClose(CloseReason(.normal, "bye"), then: .awaitPeerClose))
        #expect(driver.machine.close(CloseReason(.normal)) == nil)
        let actions = driver.feed(
            rawFrame(opcode: 0x1, payload: Array("late".utf8)),
            rawFrame(opcode: 0x9, payload: []),
            rawFrame(opcode: 0x8, payload: closePayload(1000))
        )
        #expect(actions == [.closeConnection])
        #expect(driver.machine.closeReason == CloseReason(.normal, "bye"))
    }

    @Test func unsolicitedPong_isReportedNotAnswered() {
        var driver = MachineDriver()
        let actions = driver.feed(rawFrame(opcode: 0xA, payload: [1, 2]))
        #expect(actions == [.receivedPong(ByteBuffer(bytes: [1, 2]))])
    }

    @Test func afterAFailure_furtherBytesAreDiscarded() {
        var driver = MachineDriver()
        _ = driver.feed(rawFrame(opcode: 0x1, payload: [0x41], mask: nil))
        let actions = driver.feed(rawFrame(opcode: 0x9, payload: [1]))
        #expect(actions.isEmpty)
        #expect(driver.machine.connectionClosed().code == .protocolError)
    }

    @Test func connectionLostWithoutClose_reports1006() {
        var driver = MachineDriver()
        #expect(driver.machine.connectionClosed().code == .abnormalClosure)
    }
}
