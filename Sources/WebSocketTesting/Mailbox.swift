import NIOConcurrencyHelpers

/// A queue of values with an async, time-bounded `next`: what the test client's reads wait on.
package final class Mailbox<Value: Sendable>: Sendable {
    private struct State {
        var values: [Value] = []
        var finished = false
        var waiter: (id: Int, continuation: CheckedContinuation<Value?, Never>)?
        var nextID = 0
        /// A wait whose timer fired before it was registered.
        var expiredID: Int?
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

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

    package func finish() {
        let waiter = state.withLockedValue { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume(returning: nil)
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
            let immediate: Value?? = state.withLockedValue { state in
                if !state.values.isEmpty { return .some(state.values.removeFirst()) }
                if state.finished || state.expiredID == id { return .some(nil) }
                state.waiter = (id, continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
