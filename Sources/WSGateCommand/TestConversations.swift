import ArgumentParser
import ConversationTesting
import Foundation
import Gateway
import GatewayConfig
import Logging
import NIOSSL
import WebSocketClient

/// `wsgate test [--config CONFIG] CONVERSATION… [--junit FILE]`.
struct TestConversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run conversation files against a configuration or a running deployment, like a test runner.",
        discussion: """
            Serves CONFIG in-process on 127.0.0.1 and an ephemeral port, a fresh
            gateway for every conversation (rooms and name counters start anew),
            and runs each conversation file: its clients connect, send and expect
            messages step by step. Prints a line per conversation, each failure
            with its file:line, step, expected and actual, then 'N passed,
            N failed'. A directory runs its *.test.yaml files.

            With --url ws://host:port (or wss://…) the conversations are held
            with a running deployment instead: a smoke test after a deploy. Each
            client's endpoint is appended to the URL's path; nothing starts
            afresh between conversations (rooms keep their members and history).
            wss:// verifies the certificate against the system's roots, or
            against --ca-file.

            The file format: schemas/wsgate-test.schema.json (printed by
            `wsgate schema --conversation`); `wsgate validate` checks the files.
            Exits 0 when every conversation passed, 1 when any failed or CONFIG
            is invalid.
            """
    )

    @Option(help: "The configuration to test (default: ./wsgate.yaml, else the embedded default).")
    var config: String?

    @Option(
        help: ArgumentHelp(
            "Hold the conversations with the running deployment at URL (ws:// or wss://) instead of serving a configuration.",
            valueName: "URL"))
    var url: String?

    @Option(
        help: ArgumentHelp(
            "With a wss:// --url, trust the CA certificate(s) in FILE (PEM) instead of the system's roots.",
            valueName: "FILE"))
    var caFile: String?

    @Argument(help: "Conversation files (YAML), or directories of *.test.yaml files.")
    var conversations: [String]

    @Option(help: ArgumentHelp("Also write the results as JUnit XML to FILE, for CI systems.", valueName: "FILE"))
    var junit: String?

    @Option(help: "The gateway's log level on standard error.")
    var logLevel: String = "error"

    func validate() throws {
        if let url {
            if config != nil {
                throw ValidationError("--url and --config exclude each other: --url tests a running deployment")
            }
            guard WebSocketURL(url) != nil else {
                throw ValidationError("--url '\(url)' is not a WebSocket URL; write ws://host[:port][/path] or wss://…")
            }
        } else if caFile != nil {
            throw ValidationError("--ca-file is for a wss:// --url")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        bootstrapLogging()
        let runner: ConversationRunner
        if let url, let deployment = WebSocketURL(url) {
            var options = WebSocketClientOptions()
            if let caFile {
                guard FileManager.default.isReadableFile(atPath: caFile) else {
                    FileHandle.standardError.write(Data("--ca-file: cannot read \(caFile)\n".utf8))
                    throw ExitCode(1)
                }
                options.tls.trustRoots = .file(caFile)
            }
            runner = ConversationRunner(deployment: deployment, clientOptions: options, logger: Logger(label: "wsgate"))
        } else {
            runner = try configuredRunner()
        }
        try await run(runner)
    }

    private func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .error
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// The runner of an in-process gateway serving `--config`.
    private func configuredRunner() throws -> ConversationRunner {
        let loaded: LoadedConfiguration
        do {
            (loaded, _) = try ConfigSource.load(config)
        } catch {
            ConfigSource.report(error.diagnostics)
            throw ExitCode(1)
        }
        ConfigSource.report(loaded.warnings)
        let runner = ConversationRunner(
            configuration: loaded.configuration, extensions: ExtensionRegistry.current,
            logger: Logger(label: "wsgate"))
        do {
            try runner.checkConfiguration()
        } catch {
            FileHandle.standardError.write(Data("\(config ?? "the configuration"): \(error)\n".utf8))
            throw ExitCode(1)
        }
        return runner
    }

    private func run(_ runner: ConversationRunner) async throws {
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
