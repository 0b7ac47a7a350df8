import Foundation
import GatewayConfig
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite struct SchemaTests {
    @Test func committedSchema_matchesTheSwiftTables() throws {
        let committed = try String(
            contentsOf: repositoryRoot.appendingPathComponent("schemas/wsgate.schema.json"),
            encoding: .utf8
        )
        #expect(committed == ConfigSchema.json(), "run: wsgate schema > schemas/wsgate.schema.json")
    }

    @Test func committedReference_matchesTheSwiftTables() throws {
        let committed = try String(
            contentsOf: repositoryRoot.appendingPathComponent("docs/configuration.md"),
            encoding: .utf8
        )
        #expect(committed == ConfigReference.markdown(), "run: wsgate schema --format markdown > docs/configuration.md")
    }

    @Test func reference_listsDefaultsFromTheSettingsTypes() {
        let reference = ConfigReference.markdown()
        #expect(reference.contains("| `ping_period` | duration | `15s` |"))
        #expect(reference.contains("| `max_message_size` | size | `4MiB` |"))
        #expect(reference.contains("| `permessage-deflate.compression_level` | int 0–9 | `6` |"))
        #expect(reference.contains("| `max_queue` | size | `1MiB` |"))
    }
}
