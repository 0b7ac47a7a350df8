import ArgumentParser

/// The `wsgate` command line. A custom build runs it from its own `main` after registering extensions
/// (see `ExtensionRegistry`).
public struct WSGateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "wsgate",
        abstract: "A WebSocket gateway you configure instead of program.",
        discussion: """
            Exit codes: 0 success, 1 invalid configuration, a failed test or a failure while serving, 64 usage error.
            """,
        subcommands: [
            Serve.self, Relay.self, Validate.self, Schema.self, TestConversations.self, Healthcheck.self, Bench.self,
        ],
        defaultSubcommand: Serve.self
    )

    public init() {}

    /// Parses the process arguments and runs the subcommand (what `wsgate`'s `main` does).
    public static func runMain() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
