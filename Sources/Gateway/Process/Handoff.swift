/// A rendezvous between many producers and one consumer: `send` returns once the consumer took the
/// value, so at most one value per producer waits and nothing queues without bound.
///
/// It only accepts values while it is open (a shared process runs and reads them): a `send` while it is
/// closed, or one still waiting when it closes, returns at once with ``SendResult/closed`` instead of
/// waiting for a consumer that may never come. A producer that goes away (its session closed) calls
/// ``withdraw(_:)``, which ends its waiting `send` with ``SendResult/withdrawn``.
actor Handoff<Value: Sendable> {
    /// How a `send` ended.
    enum SendResult: Sendable, Equatable {
        /// The consumer took the value.
        case taken
        /// No consumer takes values now (closed), so the value was not taken.
        case closed
        /// The producer withdrew while waiting; the value was not taken.
        case withdrawn
    }

    private struct Producer {
        var owner: Int
        var value: Value
        var resume: CheckedContinuation<SendResult, Never>
    }

    private var producers: [Producer] = []
    private var consumer: (id: Int, resume: CheckedContinuation<Value?, Never>)?
    private var nextID = 0
    /// Waits cancelled before their continuation was stored.
    private var cancelledEarly: Set<Int> = []
    private(set) var isOpen = false

    /// Producers waiting now (for tests and metrics).
    var waiting: Int { producers.count }

    /// Hands `value` to the consumer on behalf of `owner`; returns when it was taken, or at once when the
    /// hand-off is closed, or when `owner` withdraws.
    func send(_ value: Value, from owner: Int) async -> SendResult {
        guard isOpen else { return .closed }
        if let consumer {
            self.consumer = nil
            consumer.resume.resume(returning: value)
            return .taken
        }
        return await withCheckedContinuation { producers.append(Producer(owner: owner, value: value, resume: $0)) }
    }

    /// Ends the waiting sends of `owner` with ``SendResult/withdrawn``.
    func withdraw(_ owner: Int) {
        producers.removeAll { producer in
            guard producer.owner == owner else { return false }
            producer.resume.resume(returning: .withdrawn)
            return true
        }
    }

    /// Starts accepting values (the consumer is about to read them).
    func open() {
        isOpen = true
    }

    /// Stops accepting values: every waiting send returns ``SendResult/closed`` and later ones return at once.
    func close() {
        isOpen = false
        let waiting = producers
        producers.removeAll()
        for producer in waiting { producer.resume.resume(returning: .closed) }
    }

    /// The next value; nil when the calling task is cancelled.
    func next() async -> Value? {
        if !producers.isEmpty {
            let producer = producers.removeFirst()
            producer.resume.resume(returning: .taken)
            return producer.value
        }
        nextID += 1
        let id = nextID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if cancelledEarly.remove(id) != nil {
                    continuation.resume(returning: nil)
                } else {
                    consumer = (id, continuation)
                }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    private func cancel(_ id: Int) {
        if let consumer, consumer.id == id {
            self.consumer = nil
            consumer.resume.resume(returning: nil)
        } else {
            cancelledEarly.insert(id)
        }
    }
}
