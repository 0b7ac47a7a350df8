import NIOConcurrencyHelpers
import NIOCore
import RedisClient

/// What the instances sharing a broker answered to one request (``RedisRoomBroker/ask(_:timeout:)``).
public struct InstanceAnswers: Sendable, Equatable {
    /// The answers, in the order they arrived (this instance's among them).
    public var answers: [[UInt8]]
    /// How many instances received the request (Redis's count of the control channel's subscribers).
    public var asked: Int

    /// Instances that received the request but did not answer in time.
    public var unanswered: Int { max(asked - answers.count, 0) }
}

/// Requests to every instance that shares the broker's Redis and prefix, and their answers: how the
/// backend API counts a room's members and disconnects sessions on every instance.
///
/// Every instance subscribes to `PREFIX:control` and to its own `PREFIX:reply:ID`. A request is
/// published on the control channel as `ID REPLY_CHANNEL\n` and its payload; Redis's answer to that
/// PUBLISH is how many instances received it, so the asker knows how many answers to wait for. Each
/// instance (the asker too) answers on the reply channel with `ID\n` and its answer. An instance whose
/// subscriber connection is away at that moment does not receive the request and is not waited for.
final class InstanceRequests: Sendable {
    private struct Pending {
        var answers: [[UInt8]] = []
        var expected: Int?
        var continuation: CheckedContinuation<[[UInt8]], Never>?
    }

    let controlChannel: String
    let replyChannel: String
    private let pending = NIOLockedValueBox<[UInt64: Pending]>([:])
    private let answerer = NIOLockedValueBox<(@Sendable ([UInt8]) async -> [UInt8])?>(nil)

    init(prefix: String, instanceID: UInt64) {
        controlChannel = "\(prefix):control"
        replyChannel = "\(prefix):reply:\(String(instanceID, radix: 16))"
    }

    /// Sets what this instance answers to a request (an empty answer until set).
    func answer(with answerer: @escaping @Sendable ([UInt8]) async -> [UInt8]) {
        self.answerer.withLockedValue { $0 = answerer }
    }

    /// Publishes a request and waits until every instance that received it answered, or `timeout`.
    func ask(_ payload: [UInt8], timeout: Duration, client: RedisClient) async throws -> InstanceAnswers {
        let id = UInt64.random(in: 0...UInt64.max)
        pending.withLockedValue { $0[id] = Pending() }
        defer { _ = pending.withLockedValue { $0.removeValue(forKey: id) } }
        let asked = try await client.publish(Self.request(id: id, replyTo: replyChannel, payload), to: controlChannel)
        let timer = Task {
            try? await Task.sleep(for: timeout)
            finish(id)
        }
        defer { timer.cancel() }
        let answers = await withCheckedContinuation { continuation in
            let ready = pending.withLockedValue { pending -> [[UInt8]]? in
                guard var request = pending[id] else { return [] }
                request.expected = asked
                if request.answers.count >= asked { return request.answers }
                request.continuation = continuation
                pending[id] = request
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        return InstanceAnswers(answers: answers, asked: asked)
    }

    /// Handles a message of the control or reply channel; false for any other channel. Answers run on
    /// tasks of their own, so a slow answer never holds up the room messages behind it.
    func receive(_ message: RedisPubSubMessage, client: RedisClient) -> Bool {
        if message.channel == replyChannel {
            if let (id, answer) = Self.parseAnswer(message.payload) { arrived(answer, for: id) }
            return true
        }
        guard message.channel == controlChannel else { return false }
        guard let (id, replyTo, payload) = Self.parseRequest(message.payload) else { return true }
        let answerer = self.answerer.withLockedValue { $0 }
        Task {
            let answer = await answerer?(payload) ?? []
            _ = try? await client.publish(Self.answer(id: id, answer), to: replyTo)
        }
        return true
    }

    private func arrived(_ answer: [UInt8], for id: UInt64) {
        let complete = pending.withLockedValue { pending -> (CheckedContinuation<[[UInt8]], Never>, [[UInt8]])? in
            guard var request = pending[id] else { return nil }
            request.answers.append(answer)
            if let expected = request.expected, request.answers.count >= expected,
                let continuation = request.continuation
            {
                request.continuation = nil
                pending[id] = request
                return (continuation, request.answers)
            }
            pending[id] = request
            return nil
        }
        if let (continuation, answers) = complete { continuation.resume(returning: answers) }
    }

    /// The timeout: whatever arrived is the answer.
    private func finish(_ id: UInt64) {
        let waiting = pending.withLockedValue { pending -> (CheckedContinuation<[[UInt8]], Never>, [[UInt8]])? in
            guard var request = pending[id], let continuation = request.continuation else { return nil }
            request.continuation = nil
            pending[id] = request
            return (continuation, request.answers)
        }
        if let (continuation, answers) = waiting { continuation.resume(returning: answers) }
    }

    // MARK: Wire format

    static func request(id: UInt64, replyTo channel: String, _ payload: [UInt8]) -> [UInt8] {
        Array("\(String(id, radix: 16)) \(channel)\n".utf8) + payload
    }

    static func answer(id: UInt64, _ payload: [UInt8]) -> [UInt8] {
        Array("\(String(id, radix: 16))\n".utf8) + payload
    }

    static func parseRequest(_ buffer: ByteBuffer) -> (id: UInt64, replyTo: String, payload: [UInt8])? {
        let bytes = Array(buffer.readableBytesView)
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let head = String(validating: bytes[..<newline], as: UTF8.self)
        else { return nil }
        let parts = head.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let id = UInt64(parts[0], radix: 16) else { return nil }
        return (id, String(parts[1]), Array(bytes[(newline + 1)...]))
    }

    static func parseAnswer(_ buffer: ByteBuffer) -> (id: UInt64, payload: [UInt8])? {
        let bytes = Array(buffer.readableBytesView)
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")),
            let head = String(validating: bytes[..<newline], as: UTF8.self), let id = UInt64(head, radix: 16)
        else { return nil }
        return (id, Array(bytes[(newline + 1)...]))
    }
}
