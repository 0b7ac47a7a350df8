import ArgumentParser
import ConversationTesting
import Foundation
import Gateway
import GatewayConfig
import Logging

/// `wsgate test [--config CONFIG] CONVERSATION… [--junit FILE]`.
struct TestConversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run conversation files against a configuration, like a test runner.",
        discussion: """
            Serves CONFIG in-process on 127.0.0.1 and an ephemeral port, a fresh
            gateway for every conversation (rooms and name counters start anew),
            and runs each conversation file: its clients connect, send and expect
            messages step by step. Prints a line per conversation, each failure
            with its file:line, step, expected and actual, then 'N passed,
            N failed'. A directory runs its *.test.yaml files.

            The file format: schemas/wsgate-test.schema.json (printed by
            `wsgate schema --conversation`); `wsgate validate` checks the files.
            Exits 0 when every conversation passed, 1 when any failed or CONFIG
            is invalid.
            """
    )

    @Option(help: "The configuration to test (default: ./wsgate.yaml, else the embedded default).")
    var config: String?

    @Argument(help: "Conversation files (YAML), or directories of *.test.yaml files.")
    var conversations: [String]

    @Option(help: ArgumentHelp("Also write the results as JUnit XML to FILE, for CI systems.", valueName: "FILE"))
    var junit: String?

    @Option(help: "The gateway's log level on standard error.")
    var logLevel: String = "error"

    func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let loaded: LoadedConfiguration
        do {
            (loaded, _) = try ConfigSource.load(config)
        } catch {
            ConfigSource.report(error.diagnostics)
            throw ExitCode(1)
        }
        ConfigSource.report(loaded.warnings)
        let level = Logger.Level(rawValue: logLevel) ?? .error
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let runner = ConversationRunner(
            configuration: loaded.configuration, extensions: ExtensionRegistry.current,
            logger: Logger(label: "wsgate"))
        do {
            try runner.checkConfiguration()
        } catch {
            FileHandle.standardError.write(Data("\(config ?? "the configuration"): \(error)\n".utf8))
            throw ExitCode(1)
        }

        var results: [ConversationResult] = []
        for path in try files() {
            let result: ConversationResult
            do {
                result = await runner.run(try ConversationLoader.load(path: path))
            } catch {
                result = ConversationResult(
                    name: URL(fileURLWithPath: path).lastPathComponent, file: path, duration: .zero,
                    failure: ConversationResult.Failure(invalid: error.diagnostics, file: path))
            }
            Self.emit(TestReport.lines(for: result))
            results.append(result)
        }
        Self.emit(["", TestReport.summary(results)])
        if let junit {
            do {
                try Data(JUnitReport.xml(results).utf8).write(to: URL(fileURLWithPath: junit))
            } catch {
                FileHandle.standardError.write(Data("cannot write \(junit): \(error.localizedDescription)\n".utf8))
                throw ExitCode(1)
            }
        }
        if !results.allSatisfy(\.passed) { throw ExitCode(1) }
    }

    /// The files to run: each argument, or a directory's `*.test.yaml` files in name order.
    func files() throws -> [String] {
        var files: [String] = []
        for path in conversations {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let tests = names.filter { $0.hasSuffix(".test.yaml") || $0.hasSuffix(".test.yml") }.sorted()
            if tests.isEmpty { throw ValidationError("\(path) holds no *.test.yaml files") }
            files += tests.map { path.hasSuffix("/") ? path + $0 : "\(path)/\($0)" }
        }
        return files
    }

    /// Prints lines at once (unbuffered), so a long run shows progress.
    static func emit(_ lines: [String]) {
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}
