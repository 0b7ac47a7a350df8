import Testing

@testable import WebSocketEngine

/// The read gate and the close deferral of ``ConnectionFlow``, one rule per test.
@Suite struct ConnectionFlowTests {
    let bye = CloseReason(.normal, "bye")

    // MARK: Read gate

    @Test func readsWhenNothingHoldsIt() {
        var flow = ConnectionFlow()
        var reads = flow.read(hold: .none, sessionOpen: true, writable: true)
        #expect(reads)
        reads = flow.read(hold: .none, sessionOpen: false, writable: false)
        #expect(reads)
        #expect(!flow.readPending)
    }

    @Test func busyBetweenRequests_holdsTheRead_untilTheNextRequest() {
        var flow = ConnectionFlow()
        let reads = flow.read(hold: .busy, sessionOpen: false, writable: true)
        #expect(!reads)
        #expect(flow.readPending)
        // Nothing else opens the gate while busy, not even a drained buffer.
        let resumes = flow.resume(hold: .busy, sessionOpen: false, writable: true)
        #expect(!resumes)
        #expect(flow.readPending)
        var readsNext = flow.nextRequest()
        #expect(readsNext)
        #expect(!flow.readPending)
        readsNext = flow.nextRequest()
        #expect(!readsNext)
    }

    @Test func openSession_holdsReads_whileTheConsumerIsFull_thenResumesWhenItWantsMore() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: true)
        let reads = flow.read(hold: .none, sessionOpen: true, writable: true)
        #expect(!reads)
        #expect(flow.readPending)
        var resumes = flow.resume(hold: .none, sessionOpen: true, writable: true)
        #expect(!resumes)
        flow.consumerWantsMore()
        resumes = flow.resume(hold: .none, sessionOpen: true, writable: true)
        #expect(resumes)
        #expect(!flow.readPending)
        // A resume with nothing held reads nothing.
        resumes = flow.resume(hold: .none, sessionOpen: true, writable: true)
        #expect(!resumes)
    }

    @Test func openSession_holdsReads_whileTheOutboundBufferIsFull() {
        var flow = ConnectionFlow()
        let reads = flow.read(hold: .none, sessionOpen: true, writable: false)
        #expect(!reads)
        var resumes = flow.resume(hold: .none, sessionOpen: true, writable: false)
        #expect(!resumes)
        resumes = flow.resume(hold: .none, sessionOpen: true, writable: true)
        #expect(resumes)
    }

    @Test func closingSession_keepsReading_toSeeThePeersClose() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: true)
        var reads = flow.read(hold: .none, sessionOpen: true, writable: false)
        #expect(!reads)
        // The close handshake started: the protocol machine is no longer open.
        let resumes = flow.resume(hold: .none, sessionOpen: false, writable: false)
        #expect(resumes)
        reads = flow.read(hold: .none, sessionOpen: false, writable: false)
        #expect(reads)
    }

    @Test func finishedInbound_wantsMore_soBackpressureFromTheConsumerEnds() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: true)
        let reads = flow.read(hold: .none, sessionOpen: true, writable: true)
        #expect(!reads)
        flow.inboundFinished()
        #expect(flow.consumer == .taking(wantsMore: true))
        let resumes = flow.resume(hold: .none, sessionOpen: true, writable: true)
        #expect(resumes)
    }

    @Test func goneConsumer_neverHoldsReads() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: true)
        let action = flow.consumerTerminated()
        #expect(action == .none)
        #expect(flow.consumerGone)
        var reads = flow.read(hold: .none, sessionOpen: true, writable: true)
        #expect(reads)
        // A late "full" from the producer does not bring the gate back.
        flow.delivered(stopProducing: true)
        reads = flow.read(hold: .none, sessionOpen: true, writable: true)
        #expect(reads)
    }

    // MARK: Close deferral

    @Test func closeWithNoConsumerAndNoMessage_isWrittenAtOnce() {
        var flow = ConnectionFlow()
        #expect(
            flow.closeRequested(bye, then: .closeConnection, consumerIterating: false)
                == .write(bye, then: .closeConnection))
        #expect(!flow.canSend)
    }

    @Test(arguments: [ConnectionStateMachine.AfterClose.closeConnection, .shutdownOutput])
    func closeReply_waitsForAnIteratingHandler(then: ConnectionStateMachine.AfterClose) {
        var flow = ConnectionFlow()
        var action = flow.closeRequested(bye, then: then, consumerIterating: true)
        #expect(action == .deferUntilDrained)
        #expect(flow.close == .deferred(bye, then: then))
        // Until released, the handler may still answer.
        #expect(flow.canSend)
        action = flow.releaseDeferredClose()
        #expect(action == .write(bye, then: then))
        #expect(!flow.canSend)
        action = flow.releaseDeferredClose()
        #expect(action == .none)
    }

    @Test func closeReply_waitsWhenAMessageWasDelivered_evenBeforeTheHandlerIterates() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: false)
        let action = flow.closeRequested(bye, then: .closeConnection, consumerIterating: false)
        #expect(action == .deferUntilDrained)
    }

    @Test func closeThisSideStarts_isNeverDeferred() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: false)
        #expect(
            flow.closeRequested(bye, then: .awaitPeerClose, consumerIterating: true)
                == .write(bye, then: .awaitPeerClose))
    }

    @Test func closeAfterTheConsumerLeft_isWrittenAtOnce() {
        var flow = ConnectionFlow()
        flow.delivered(stopProducing: false)
        _ = flow.consumerTerminated()
        #expect(
            flow.closeRequested(bye, then: .closeConnection, consumerIterating: true)
                == .write(bye, then: .closeConnection))
    }

    @Test func consumerLeaving_releasesTheDeferredClose() {
        var flow = ConnectionFlow()
        var action = flow.closeRequested(bye, then: .closeConnection, consumerIterating: true)
        #expect(action == .deferUntilDrained)
        action = flow.consumerTerminated()
        #expect(action == .write(bye, then: .closeConnection))
        #expect(!flow.canSend)
    }

    @Test func secondCloseFrame_isNeverWritten() {
        var flow = ConnectionFlow()
        var action = flow.startWriting(bye, then: .awaitPeerClose)
        #expect(action == .write(bye, then: .awaitPeerClose))
        let late = CloseReason(.protocolError, "late")
        action = flow.startWriting(late, then: .closeConnection)
        #expect(action == .none)
        action = flow.closeRequested(late, then: .closeConnection, consumerIterating: true)
        #expect(action == .none)
        #expect(flow.close == .written)
    }
}
