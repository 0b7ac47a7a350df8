import NIOCore

/// A task executor that runs jobs on one event loop's thread, so a session handler and the connection
/// it serves share a thread: resuming after `send` or on the next message is a queued job on the same
/// loop, never a switch to another thread.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
