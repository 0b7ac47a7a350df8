import Foundation
import GatewayConfig
import Testing

/// The files of `Corpus/`: each a bad configuration whose first line says what must be reported,
/// `# expect: LINE:COLUMN message-prefix[ | hint-prefix]`.
let corpusFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

func corpusFiles() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: corpusFolder.path)) ?? []).filter { $0.hasSuffix(".yaml") }
        .sorted()
}

@Suite struct BadCorpusTests {
    @Test func corpus_hasAtLeastTwentyFiles() {
        #expect(corpusFiles().count >= 20)
    }

    @Test(arguments: corpusFiles())
    func badFile_isRefused_withItsMessageAndPosition(_ name: String) throws {
        let path = corpusFolder.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let header = try #require(text.split(separator: "\n").first)
        let expectation = try #require(header.split(separator: "# expect: ", maxSplits: 1).last)
        let parts = expectation.split(separator: " ", maxSplits: 1)
        let position = String(parts[0])
        let expected = parts.count > 1 ? String(parts[1]) : ""
        let (message, hint) = {
            let split = expected.components(separatedBy: " | ")
            return (split[0], split.count > 1 ? split[1] : nil)
        }()
        do {
            _ = try ConfigLoader.load(path: path, environment: [:])
            Issue.record("\(name) was accepted")
        } catch {
            let match = error.diagnostics.first { diagnostic in
                let hintMatches = hint.map { diagnostic.hint?.hasPrefix($0) == true } ?? true
                return "\(diagnostic.location.line):\(diagnostic.location.column)" == position
                    && diagnostic.message.hasPrefix(message) && hintMatches
            }
            #expect(match != nil, "\(name): expected \(position) \(expected), got:\n\(error)")
            #expect(error.diagnostics.allSatisfy { $0.location.file == path })
        }
    }
}

@Suite struct EnvironmentInterpolationTests {
    @Test func variablesAndFallbacks_areReplacedInValues() throws {
        let yaml = """
            version: 1
            server: { listen: "${HOST:-127.0.0.1}:${PORT}" }
            endpoints:
              - { path: /e, type: echo, greeting: "hello ${WHO:-world}", max_frame_size: "${FRAME}" }
            """
        let loaded = try ConfigLoader.parse(
            yaml: yaml,
            file: "env.yaml",
            baseDirectory: ".",
            environment: ["PORT": "9300", "FRAME": "64KiB"]
        )
        let config = loaded.configuration
        #expect(config.server.listen == ListenAddress(host: "127.0.0.1", port: 9300))
        #expect(config.endpoints[0].kind == .echo(EchoSettings(greeting: "hello world")))
        #expect(config.endpoints[0].settings.options.maxFrameSize == 65536)
    }

    @Test func malformedReference_isAnError() {
        let yaml = "version: 1\nendpoints:\n  - { path: /e, type: echo, greeting: \"${1X}\" }\n"
        #expect(throws: ConfigError.self) {
            _ = try ConfigLoader.parse(yaml: yaml, file: "env.yaml", baseDirectory: ".", environment: [:])
        }
    }
}
