import ArgumentParser
import GatewayConfig

/// `wsgate schema`.
struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema (draft 2020-12) of the configuration file.",
        discussion: """
            Editors use it for completion and checks: put
            '# yaml-language-server: $schema=<path or URL of schemas/wsgate.schema.json>' on the first line
            of a configuration file. The schema checks structure and types; `wsgate validate` checks the rest.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, markdown
    }

    @Option(help: "json: the JSON Schema; markdown: the configuration reference (docs/configuration.md).")
    var format: Format = .json

    @Flag(help: "Print the schema of conversation files (wsgate test) instead: schemas/wsgate-test.schema.json.")
    var conversation = false

    func run() {
        if conversation {
            print(ConversationSchema.json(), terminator: "")
            return
        }
        switch format {
        case .json: print(ConfigSchema.json(), terminator: "")
        case .markdown: print(ConfigReference.markdown(), terminator: "")
        }
    }
}
