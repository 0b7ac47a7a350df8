import ArgumentParser
import Foundation
import Gateway
import GatewayConfig

/// `wsgate validate CONFIG… [--format text|json]`.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration (and conversation) files without serving them.",
        discussion: """
            Prints every problem as file:line:column: severity: message; hint (or, with --format json,
            one JSON document for CI tools). Conversation files (`wsgate test`: named *.test.yaml, or
            with a top-level 'steps:') are checked as such. Exits 0 when every file is valid (warnings allowed), 1 when
            any file has an error.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "Configuration files to check.")
    var configs: [String]

    @Option(help: "Output format: text (one line per problem) or json.")
    var format: Format = .text

    func run() throws {
        var reports: [FileReport] = []
        for path in configs {
            if let report = Self.conversationReport(path) {
                reports.append(report)
                continue
            }
            do {
                let loaded = try ConfigLoader.load(path: path, customExtensions: ExtensionRegistry.current.customNames)
                reports.append(
                    FileReport(
                        file: path, valid: true, endpoints: loaded.configuration.endpoints.count,
                        diagnostics: loaded.warnings))
            } catch {
                reports.append(FileReport(file: path, valid: false, endpoints: nil, diagnostics: error.diagnostics))
            }
        }
        switch format {
        case .text:
            for report in reports {
                ConfigSource.report(report.diagnostics)
                if report.valid { print("\(report.file): valid (\(report.summary))") }
            }
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let document = JSONReport(valid: reports.allSatisfy(\.valid), files: reports.map(JSONReport.File.init))
            if let data = try? encoder.encode(document) { print(String(decoding: data, as: UTF8.self)) }
        }
        if !reports.allSatisfy(\.valid) { throw ExitCode(1) }
    }
}

extension Validate {
    /// The report for a conversation file (`wsgate test`), recognised by its name (`*.test.yaml`) or its
    /// top-level `steps:`; nil for a configuration file.
    fileprivate static func conversationReport(_ path: String) -> FileReport? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            ConversationLoader.isConversation(path: path, yaml: text)
        else { return nil }
        do {
            let conversation = try ConversationLoader.parse(yaml: text, file: path)
            return FileReport(
                file: path, valid: true, endpoints: nil, diagnostics: [],
                kind: "a conversation of \(conversation.steps.count) steps")
        } catch {
            return FileReport(file: path, valid: false, endpoints: nil, diagnostics: error.diagnostics)
        }
    }
}

private struct FileReport {
    let file: String
    let valid: Bool
    let endpoints: Int?
    let diagnostics: [ConfigDiagnostic]
    /// What a conversation file holds; nil for a configuration.
    var kind: String? = nil
    /// What a valid file holds, e.g. `2 endpoints` or `a conversation of 5 steps`.
    var summary: String { kind ?? "\(endpoints ?? 0) endpoints" }
}

/// The `--format json` document.
private struct JSONReport: Encodable {
    struct Problem: Encodable {
        let severity: String
        let file: String
        let line: Int
        let column: Int
        let message: String
        let hint: String?
    }

    struct File: Encodable {
        let file: String
        let valid: Bool
        let problems: [Problem]

        init(_ report: FileReport) {
            file = report.file
            valid = report.valid
            problems = report.diagnostics.map {
                Problem(
                    severity: $0.severity.rawValue,
                    file: $0.location.file,
                    line: $0.location.line,
                    column: $0.location.column,
                    message: $0.message,
                    hint: $0.hint
                )
            }
        }
    }

    let valid: Bool
    let files: [File]
}
