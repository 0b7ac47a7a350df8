import NIOConcurrencyHelpers

/// Runs `operation` and waits for it at most `timeout`: its result, or nil when time ran out first.
/// The operation is not cancelled (a connect attempt cannot be); what it returns late is dropped.
func firstResult<Value: Sendable>(
    within timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Value
) async -> Result<Value, any Error>? {
    let waiter = NIOLockedValueBox<CheckedContinuation<Result<Value, any Error>?, Never>?>(nil)
    let timers = NIOLockedValueBox<[Task<Void, Never>]>([])
    return await withCheckedContinuation { continuation in
        waiter.withLockedValue { $0 = continuation }
        @Sendable func finish(_ result: Result<Value, any Error>?) {
            let continuation = waiter.withLockedValue { waiting in
                defer { waiting = nil }
                return waiting
            }
            continuation?.resume(returning: result)
            for timer in timers.withLockedValue({ $0 }) { timer.cancel() }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { finish(nil) }
        }
        timers.withLockedValue { $0.append(timer) }
        Task {
            do {
                finish(.success(try await operation()))
            } catch {
                finish(.failure(error))
            }
        }
    }
}

extension StepMatcher {
    /// A duration as a conversation file writes it: `200ms`, `5s`, `2m`.
    public static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 {
            return seconds >= 60 && seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s"
        }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
