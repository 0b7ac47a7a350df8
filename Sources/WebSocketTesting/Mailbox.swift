import NIOConcurrencyHelpers

/// A queue of values with an async, time-bounded `next`: what the test client's reads wait on.
///
/// ``push(_:)`` never waits (for producers on an event loop); ``put(_:)`` waits while `capacity` values are
/// queued, so a producer that can wait (a task reading a session) holds back its source instead of growing
/// the queue without bound.
package final class Mailbox<Value: Sendable>: Sendable {
    private struct State {
        var values: [Value] = []
        var finished = false
        var waiter: (id: Int, continuation: CheckedContinuation<Value?, Never>)?
        var nextID = 0
        /// A wait whose timer fired before it was registered.
        var expiredID: Int?
        let capacity: Int
        /// A ``put(_:)`` waiting for room: its value goes in when one is taken.
        var blocked: (value: Value, continuation: CheckedContinuation<Bool, Never>)?
    }

    private let state: NIOLockedValueBox<State>

    /// A mailbox that holds at most `capacity` values from ``put(_:)`` (``push(_:)`` is not bounded).
    package init(capacity: Int = .max) {
        state = NIOLockedValueBox(State(capacity: max(1, capacity)))
    }

    /// Queues `value`, waiting while the mailbox is full; false (and `value` dropped) once it is finished.
    /// One producer at a time.
    package func put(_ value: Value) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let outcome: PutOutcome = state.withLockedValue { state in
                if state.finished { return .dropped }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return .handed(waiter.continuation)
                }
                if state.values.count < state.capacity {
                    state.values.append(value)
                    return .stored
                }
                state.blocked = (value, continuation)
                return .blocked
            }
            switch outcome {
            case .stored: continuation.resume(returning: true)
            case .handed(let waiter):
                waiter.resume(returning: value)
                continuation.resume(returning: true)
            case .dropped: continuation.resume(returning: false)
            case .blocked: break
            }
        }
    }

    private enum PutOutcome {
        case stored
        case handed(CheckedContinuation<Value?, Never>)
        case dropped
        case blocked
    }

    /// The first queued value, letting a blocked ``put(_:)`` in. Call with the lock held.
    private static func take(_ state: inout State) -> (Value, CheckedContinuation<Bool, Never>?) {
        let value = state.values.removeFirst()
        guard let blocked = state.blocked else { return (value, nil) }
        state.blocked = nil
        state.values.append(blocked.value)
        return (value, blocked.continuation)
    }

    package func push(_ value: Value) {
        let waiter: CheckedContinuation<Value?, Never>? = state.withLockedValue { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.values.append(value)
            return nil
        }
        waiter?.resume(returning: value)
    }

    /// No more values: a waiting `next` gets nil, a blocked ``put(_:)`` false; what is queued can still be taken.
    package func finish() {
        let (waiter, blocked) = state.withLockedValue { state in
            state.finished = true
            defer {
                state.waiter = nil
                state.blocked = nil
            }
            return (state.waiter?.continuation, state.blocked?.continuation)
        }
        waiter?.resume(returning: nil)
        blocked?.resume(returning: false)
    }

    /// Whether ``finish()`` was called and every value was taken.
    package var isFinished: Bool {
        state.withLockedValue { $0.finished && $0.values.isEmpty }
    }

    /// The next value; nil when finished and drained, or when `timeout` passes first.
    package func next(timeout: Duration) async -> Value? {
        let id = state.withLockedValue { state in
            state.nextID += 1
            return state.nextID
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            let waiter = self.state.withLockedValue { state -> CheckedContinuation<Value?, Never>? in
                guard let waiter = state.waiter, waiter.id == id else {
                    state.expiredID = id
                    return nil
                }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume(returning: nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            var unblocked: CheckedContinuation<Bool, Never>?
            let immediate: Value?? = state.withLockedValue { state in
                if !state.values.isEmpty {
                    let (value, blocked) = Self.take(&state)
                    unblocked = blocked
                    return .some(value)
                }
                if state.finished || state.expiredID == id { return .some(nil) }
                state.waiter = (id, continuation)
                return nil
            }
            unblocked?.resume(returning: true)
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
