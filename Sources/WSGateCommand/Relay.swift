import ArgumentParser
import Foundation
import Gateway
import GatewayConfig

/// `wsgate relay [options] -- COMMAND [ARGS…]`: websocketd's everyday use, without a file.
struct Relay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Relay a WebSocket to a program, one process per connection (websocketd's one-liner).",
        discussion: """
            Each text message goes to the program's stdin as a line; each line it prints comes back as a
            message; when it exits the connection closes (1000 on status 0, 1011 otherwise). The command
            runs without a shell, in the current folder, with the CGI-style variables and --pass-env.
            This is the configuration a YAML file would give (--print-config prints it), served as
            `wsgate serve` serves a file: SIGTERM or SIGINT drains; SIGHUP has no file to reload.

            Example:  wsgate relay --listen 127.0.0.1:8080 --static-dir ./public -- ./count.sh 10
            See docs/relay.md for every flag and its YAML key.
            """
    )

    @Option(help: "Listen on HOST:PORT (server.listen; default 0.0.0.0:8080, or WSGATE_LISTEN).")
    var listen: String?

    @Option(help: "The endpoint's path (path).")
    var path: String = "/"

    @Flag(help: "Pass bytes both ways as they come instead of lines (mode: binary).")
    var binary = false

    @Option(help: "Serve the files of DIR at the same path to plain HTTP requests (a type: static endpoint).")
    var staticDir: String?

    @Option(help: "At most N processes at once; beyond it HTTP 503 (max_processes; default 100).")
    var maxProcesses: Int?

    @Option(
        parsing: .upToNextOption,
        help: "Pass these variables of wsgate's environment to the program (pass_env; default PATH LD_LIBRARY_PATH)."
    )
    var passEnv: [String] = []

    @Option(
        parsing: .upToNextOption,
        help: "Accept upgrades only from these exact origins, e.g. https://example.com (allowed_origins; default any)."
    )
    var origin: [String] = []

    @Flag(help: "Print the equivalent configuration file (YAML) and exit.")
    var printConfig = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after '--'.")
    var command: [String] = []

    /// websocketd's default `--passenv`.
    static let defaultPassEnv = ["PATH", "LD_LIBRARY_PATH"]

    func run() async throws {
        let argv = command
        if let maxProcesses, !(1...100_000).contains(maxProcesses) {
            throw ValidationError("--max-processes must be between 1 and 100000, not \(maxProcesses)")
        }
        let folder = FileManager.default.currentDirectoryPath
        let yaml: String
        do {
            yaml = try Self.yaml(
                RelayOptions(
                    listen: listen, path: path, binary: binary, staticDirectory: staticDir,
                    maxProcesses: maxProcesses, passEnv: passEnv.isEmpty ? Self.defaultPassEnv : passEnv,
                    origins: origin, command: argv),
                workingDirectory: folder)
        } catch {
            throw ValidationError(error.description)
        }
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigLoader.parse(
                yaml: yaml, file: "<wsgate relay>", baseDirectory: folder,
                customExtensions: ExtensionRegistry.current.customNames)
        } catch {
            ConfigSource.report(error.diagnostics)
            throw ExitCode(1)
        }
        if printConfig {
            print(yaml, terminator: "")
            return
        }
        ConfigSource.report(loaded.warnings)
        try await GatewayRunner.serve(
            loaded.configuration, source: "wsgate relay", reloadPath: nil, listen: listen, logLevel: logLevel)
    }

    /// The command line's choices.
    struct RelayOptions {
        var listen: String?
        var path: String
        var binary: Bool
        var staticDirectory: String?
        var maxProcesses: Int?
        var passEnv: [String]
        var origins: [String]
        var command: [String]
    }

    /// A usage problem, said as what to write instead.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// The configuration file equivalent to `options`, with every folder absolute so that the file serves
    /// the same wherever it is saved.
    static func yaml(_ options: RelayOptions, workingDirectory: String) throws(UsageError) -> String {
        guard let program = options.command.first, !program.isEmpty else {
            throw UsageError(description: "give the program to run after '--', e.g. wsgate relay -- ./count.sh 10")
        }
        for value in options.command + options.passEnv + options.origins + [options.path]
        where value.contains("${") {
            throw UsageError(
                description:
                    "'\(value)' contains '${', which a configuration file reads as a variable; write the command in a script"
            )
        }
        func absolute(_ path: String) -> String {
            URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true))
                .standardizedFileURL.path
        }
        func list(_ values: [String]) -> String { "[" + values.map(JSONText.quoted).joined(separator: ", ") + "]" }
        var lines = [
            "# wsgate relay as a configuration file: wsgate serve THIS_FILE (docs/relay.md)",
            "version: 1",
        ]
        if let listen = options.listen {
            lines += ["server:", "  listen: \(JSONText.quoted(listen))"]
        }
        lines += [
            "endpoints:",
            "  - path: \(JSONText.quoted(options.path))",
            "    type: process",
            "    command: \(list(options.command))",
            "    working_directory: \(JSONText.quoted(absolute(workingDirectory)))",
        ]
        if options.binary { lines.append("    mode: binary") }
        if let maxProcesses = options.maxProcesses { lines.append("    max_processes: \(maxProcesses)") }
        lines.append("    pass_env: \(list(options.passEnv))")
        if !options.origins.isEmpty { lines.append("    allowed_origins: \(list(options.origins))") }
        if let directory = options.staticDirectory {
            lines += [
                "  - path: \(JSONText.quoted(options.path))",
                "    type: static",
                "    directory: \(JSONText.quoted(absolute(directory)))",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
