import Foundation
import GatewayConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import WebSocketEngine

@testable import Gateway

/// The child process and the pump against real programs (/bin/sh, cat, env, sleep).
@Suite(.serialized) struct ProcessPumpTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func pump(mode: ProcessSettings.Mode = .text, grace: Duration = .seconds(5)) -> ProcessPump {
        ProcessPump(mode: mode, maxMessageSize: 1 << 20, grace: grace, logger: Logger(label: "test"))
    }

    func shell(_ script: String, environment: [String: String] = [:], directory: String? = nil) -> ProcessSpec {
        ProcessSpec(
            executable: "/bin/sh", arguments: ["sh", "-c", script], environment: environment, directory: directory)
    }

    /// Runs `spec` with nothing on stdin (EOF at once) and returns its stdout lines and exit.
    func output(of spec: ProcessSpec, pump: ProcessPump? = nil) async throws -> ([String], ProcessExit) {
        let lines = NIOLockedValueBox<[String]>([])
        let exit = try await (pump ?? self.pump()).run(
            spec, on: loop, feed: { _ in },
            emit: { frame in lines.withLockedValue { $0.append(frame.readText() ?? "<binary>") } })
        return (lines.withLockedValue { $0 }, exit)
    }

    @Test func exactlyItsEnvironment_itsFolder_andItsExitStatus() async throws {
        let (lines, exit) = try await output(
            of: ProcessSpec(executable: "/usr/bin/env", arguments: ["env"], environment: ["ONLY": "this one"]))
        #expect(lines == ["ONLY=this one"])
        #expect(exit == .exited(0))

        let (folder, status) = try await output(of: shell("pwd; exit 3", directory: "/tmp"))
        #expect(folder == ["/tmp"])
        #expect(status == .exited(3))
    }

    @Test func theChildLeadsItsOwnSession_withDefaultSignals_andOnlyItsThreeDescriptors() async throws {
        // /proc/PID/stat fields 5 and 6: process group and session.
        let (ids, _) = try await output(of: shell("echo $$; cut -d' ' -f5,6 /proc/$$/stat"))
        let pid = try #require(ids.first)
        #expect(ids.dropFirst().first == "\(pid) \(pid)")
        // The masks of the spawned program itself (a shell blocks signals around its own forks).
        let (status, _) = try await output(
            of: ProcessSpec(
                executable: "/usr/bin/grep", arguments: ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"],
                environment: [:]))
        // wsgate ignores SIGPIPE, SIGTERM, SIGINT and SIGHUP; the child must not, and blocks nothing. (Signals
        // 32 and up, glibc's own, are left as they are: bits 31 and up of the masks.)
        let masks = status.compactMap { line in
            line.split(separator: "\t").last.flatMap { UInt64($0, radix: 16) }.map { $0 & 0x7FFF_FFFF }
        }
        #expect(masks == [0, 0])

        // `ls` opens the folder it lists as 3: nothing else may be open.
        let (descriptors, _) = try await output(
            of: ProcessSpec(executable: "/bin/ls", arguments: ["ls", "/proc/self/fd"], environment: [:]))
        #expect(descriptors == ["0", "1", "2", "3"])
    }

    @Test func stdinReachesTheChild_andItsLinesComeBack_inOrder() async throws {
        let received = NIOLockedValueBox<[String]>([])
        let exit = try await pump().run(
            ProcessSpec(executable: "/bin/cat", arguments: ["cat"], environment: [:]), on: loop,
            feed: { stdin in
                for index in 0..<1000 { _ = await stdin.write(.text("line \(index)")) }
            },
            emit: { frame in received.withLockedValue { $0.append(frame.readText() ?? "") } })
        #expect(exit == .exited(0))
        #expect(received.withLockedValue { $0 } == (0..<1000).map { "line \($0)" })
    }

    @Test func aChildThatIgnoresEOFAndSIGTERM_isKilled_afterTwoGraces() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let (_, exit) = try await output(
            of: shell("trap '' TERM; while :; do sleep 0.05; done"), pump: pump(grace: .milliseconds(100)))
        #expect(exit == .signaled(SIGKILL))
        #expect(clock.now - start >= .milliseconds(200))

        let (_, terminated) = try await output(of: shell("sleep 30"), pump: pump(grace: .milliseconds(50)))
        #expect(terminated == .signaled(SIGTERM))
    }

    @Test func aProgramThatCannotStart_isAnError_namingIt() async throws {
        await #expect(throws: SpawnError.self) {
            _ = try await output(
                of: ProcessSpec(executable: "/nonexistent/program", arguments: ["program"], environment: [:]))
        }
        let error = SpawnError(executable: "/nonexistent/program", errno: ENOENT)
        #expect(error.description == "cannot start /nonexistent/program: No such file or directory")
    }

    /// Open pipes and pidfds of this test process.
    func pipesAndPidfds() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count { name in
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) ?? ""
            return target.hasPrefix("pipe:") || target == "anon_inode:[pidfd]"
        }
    }

    @Test func manyRuns_leaveNoDescriptorAndNoChildBehind() async throws {
        let before = try pipesAndPidfds()
        let pids = NIOLockedValueBox<[pid_t]>([])
        for _ in 0..<200 {
            let lines = NIOLockedValueBox<[String]>([])
            let exit = try await pump().run(
                shell("echo hi"), on: loop, started: { pid in pids.withLockedValue { $0.append(pid) } },
                feed: { _ in }, emit: { frame in lines.withLockedValue { $0.append(frame.readText() ?? "") } })
            #expect(lines.withLockedValue { $0 } == ["hi"] && exit == .exited(0))
        }
        // The reaper closes a child's stderr and pidfd a moment after it exited: wait for that (bounded).
        let deadline = ContinuousClock.now + .seconds(15)
        while try pipesAndPidfds() > before, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try pipesAndPidfds() <= before)
        // Every child was reaped (no zombie): waiting for it finds no such child.
        for pid in pids.withLockedValue({ $0 }) {
            var status: Int32 = 0
            #expect(waitpid(pid, &status, WNOHANG) == -1)
        }
    }
}
