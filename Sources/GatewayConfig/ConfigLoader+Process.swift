import Foundation
import Yams

/// The keys of `type: process`.
extension ConfigLoader {
    static func readProcessKey(
        _ key: String,
        _ value: Node,
        _ name: String,
        into settings: inout ProcessSettings,
        reader: inout NodeReader
    ) {
        switch key {
        case "command":
            if let v = reader.stringList(value, name) {
                if v.isEmpty || v[0].isEmpty {
                    reader.error(
                        value, "\(name) is empty",
                        hint: "give the program and its arguments, e.g. [\"./count.sh\", \"10\"]")
                } else {
                    settings.command = v
                }
            }
        case "mode":
            guard let text = reader.string(value, name) else { return }
            if let mode = ProcessSettings.Mode(rawValue: text) {
                settings.mode = mode
            } else {
                reader.error(value, "\(name) must be text or binary, not '\(text)'")
            }
        case "working_directory":
            if let v = reader.string(value, name) { settings.workingDirectory = v }
        case "env":
            guard case .mapping(let mapping) = value else {
                reader.error(
                    value, "\(name) must be a mapping of names to values", hint: "e.g. env: { GREETING: hello }")
                return
            }
            for (keyNode, valueNode) in mapping {
                guard let variable = keyNode.string,
                    let text = reader.string(valueNode, "\(name).\(keyNode.string ?? "")")
                else { continue }
                settings.environment[variable] = text
            }
        case "pass_env":
            if let v = reader.stringList(value, name) { settings.passEnvironment = v }
        case "max_processes":
            if let v = reader.integer(value, name, range: 1...100_000) { settings.maxProcesses = v }
        case "close_grace":
            if let v = reader.duration(value, name) { settings.closeGrace = v }
        case "instance":
            guard let text = reader.string(value, name) else { return }
            switch text {
            case "shared": settings.shared = true
            case "connection": settings.shared = false
            default: reader.error(value, "\(name) must be connection or shared, not '\(text)'")
            }
        case "input":
            if let v = reader.string(value, name) { settings.input = v }
        default:
            break
        }
    }

    /// Requires a command, resolves the working directory against the config file's folder, and warns
    /// when the program cannot be found or run.
    static func checkProcess(
        _ settings: inout ProcessSettings,
        at node: Node,
        _ path: String,
        baseDirectory: String,
        reader: inout NodeReader
    ) {
        guard let program = settings.command.first else {
            reader.error(node, "\(path) has no 'command'", hint: "add e.g. 'command: [\"./count.sh\", \"10\"]'")
            return
        }
        let folder = settings.workingDirectory.map { resolve($0, against: baseDirectory) } ?? baseDirectory
        settings.workingDirectory = folder
        if resolveExecutable(program, workingDirectory: folder) == nil {
            reader.warning(
                node,
                "\(path).command: '\(program)' is not an executable file here",
                hint: "check the path (relative paths start from working_directory) and its execute permission"
            )
        }
    }

    static func resolve(_ path: String, against folder: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).standardized.path
    }

    /// The absolute path of a program: as written when it has a '/', relative to `workingDirectory`;
    /// else the first match in wsgate's PATH. Nil when there is no executable file.
    public static func resolveExecutable(_ program: String, workingDirectory: String) -> String? {
        let manager = FileManager.default
        if program.contains("/") {
            let path = resolve(program, against: workingDirectory)
            return manager.isExecutableFile(atPath: path) ? path : nil
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in searchPath.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(program).path
            if manager.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
