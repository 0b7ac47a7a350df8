import Broker
import NIOCore
import Testing

@Suite struct RoomSequenceTests {
    @Test func inOrder_delivers_duplicatesDrop_gapsAskToBeFilled() {
        var sequence = RoomSequence()
        #expect(sequence.receive(offset: 5, epoch: "a") == .deliver)  // the first seen starts it
        #expect(sequence.receive(offset: 6, epoch: "a") == .deliver)
        #expect(sequence.receive(offset: 6, epoch: "a") == .drop)
        #expect(sequence.receive(offset: 3, epoch: "a") == .drop)
        #expect(sequence.receive(offset: 9, epoch: "a") == .fillGap(from: 7, through: 8))
        #expect(sequence.last == 6)
        #expect(sequence.receive(offset: 7, epoch: "a") == .deliver)  // filled from the stream
        sequence.skip(through: 8)  // 8 was trimmed away
        #expect(sequence.lost == 1)
        #expect(sequence.receive(offset: 9, epoch: "a") == .deliver)
        #expect(sequence.last == 9)
    }

    @Test func newEpoch_startsOver() {
        var sequence = RoomSequence(epoch: "a", after: 40)
        #expect(sequence.receive(offset: 41, epoch: "a") == .deliver)
        #expect(sequence.receive(offset: 1, epoch: "b") == .deliver)
        #expect(sequence.epoch == "b")
        #expect(sequence.receive(offset: 2, epoch: "b") == .deliver)
    }

    @Test func startedAfterAnOffset_dropsWhatCameBefore() {
        var sequence = RoomSequence(epoch: "e", after: 10)
        #expect(sequence.receive(offset: 10, epoch: "e") == .drop)
        #expect(sequence.receive(offset: 12, epoch: "e") == .fillGap(from: 11, through: 11))
    }

    @Test func roomWithoutMessagesYet_startsFromItsFirstOffset_whateverTheEpoch() {
        var sequence = RoomSequence(epoch: nil, after: 0)
        #expect(sequence.receive(offset: 3, epoch: "x") == .fillGap(from: 1, through: 2))
        #expect(sequence.epoch == "x")
        #expect(sequence.receive(offset: 1, epoch: "x") == .deliver)
    }

    @Test func skip_neverGoesBack() {
        var sequence = RoomSequence(epoch: "e", after: 10)
        sequence.skip(through: 4)
        #expect(sequence.last == 10)
        #expect(sequence.lost == 0)
    }
}

@Suite struct RoomEnvelopeTests {
    @Test func envelope_roundTrips_withBinaryPayloads() throws {
        let envelope = RoomEnvelope(
            kind: .binary,
            origin: 0xDEAD_BEEF_0000_0001,
            sender: 42,
            payload: ByteBuffer(bytes: [0, 0x3A, 0xFF, 0x0D, 0x0A])
        )
        let encoded = envelope.encoded()
        #expect(encoded.readableBytes == 49 + 5)
        #expect(RoomEnvelope(decoding: encoded) == envelope)
        var published = ByteBuffer(string: "17:ab12:")
        var copy = encoded
        published.writeBuffer(&copy)
        let message = try #require(PublishedRoomMessage(published))
        #expect(message.offset == 17)
        #expect(message.epoch == "ab12")
        #expect(message.envelope == envelope)
    }

    @Test func foreignPayloads_areNotMessages() {
        #expect(RoomEnvelope(decoding: ByteBuffer(string: "t0123")) == nil)
        #expect(RoomEnvelope(decoding: ByteBuffer(string: "x" + String(repeating: "0", count: 32))) == nil)
        #expect(PublishedRoomMessage(ByteBuffer(string: "hello")) == nil)
        #expect(PublishedRoomMessage(ByteBuffer(string: "1:e:short")) == nil)
        #expect(PublishedRoomMessage(ByteBuffer(string: "x:e:t" + String(repeating: "0", count: 32))) == nil)
    }

    @Test func keys_followTheLayout() {
        let keys = RoomKeys(prefix: "app", room: "/chat/1")
        #expect(keys.channel == "app:room:/chat/1")
        #expect(keys.stream == "app:room:/chat/1:stream")
        #expect(keys.meta == "app:room:/chat/1:meta")
        #expect(RoomKeys.room(ofChannel: "app:room:/chat/1", prefix: "app") == "/chat/1")
        #expect(RoomKeys.room(ofChannel: "other:room:x", prefix: "app") == nil)
    }
}

@Suite struct RoomPositionTests {
    @Test(arguments: [
        ("ab12:17", RoomPosition(epoch: "ab12", offset: 17)),
        ("0:0", RoomPosition(epoch: "0", offset: 0)),
        ("DEADbeef:18446744073709551615", RoomPosition(epoch: "DEADbeef", offset: .max)),
    ])
    func position_parsesEpochAndOffset_andPrintsThemBack(text: String, expected: RoomPosition) {
        #expect(RoomPosition(text) == expected)
        #expect(RoomPosition(text)?.description == text)
    }

    @Test(arguments: [
        "", ":", "ab12", "ab12:", ":5", "xyz:5", "ab12:-1", "ab12:5x", "ab12:18446744073709551616",
        String(repeating: "a", count: 33) + ":1", "ab:1:2",
    ])
    func anythingElse_isNoPosition(text: String) {
        #expect(RoomPosition(text) == nil)
    }
}
