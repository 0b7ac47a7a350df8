import ArgumentParser
import Gateway
import GatewayConfig

/// `wsgate validate CONFIG…`.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration files without serving them.",
        discussion: """
            Prints every problem as file:line:column: severity: message; hint. Exits 0 when every file
            is valid (warnings allowed), 1 when any file has an error.
            """
    )

    @Argument(help: "Configuration files to check.")
    var configs: [String]

    func run() throws {
        var failed = false
        for path in configs {
            do {
                let loaded = try ConfigLoader.load(path: path, customExtensions: ExtensionRegistry.current.customNames)
                ConfigSource.report(loaded.warnings)
                print("\(path): valid (\(loaded.configuration.endpoints.count) endpoints)")
            } catch {
                ConfigSource.report(error.diagnostics)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
