import ArgumentParser

/// The `wsgate` command line.
@main
struct WSGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsgate",
        abstract: "A WebSocket gateway you configure instead of program.",
        discussion: """
            Exit codes: 0 success, 1 invalid configuration or a failure while serving, 2 usage error.
            """,
        subcommands: [Serve.self, Validate.self],
        defaultSubcommand: Serve.self
    )
}
