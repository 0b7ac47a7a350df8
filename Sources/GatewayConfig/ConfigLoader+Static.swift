import Foundation
import Yams

/// The keys of `type: static`.
extension ConfigLoader {
    static func readStaticKey(
        _ key: String,
        _ value: Node,
        _ name: String,
        into settings: inout StaticSettings,
        reader: inout NodeReader
    ) {
        switch key {
        case "directory":
            guard let text = reader.string(value, name) else { return }
            if text.isEmpty {
                reader.error(value, "\(name) is empty", hint: "name the folder to serve, e.g. 'directory: ./public'")
            } else {
                settings.directory = text
            }
        case "index":
            guard let read = reader.optionalString(value, name) else { return }
            guard let text = read else {
                settings.index = nil
                return
            }
            if text.isEmpty || text.contains("/") || text == "." || text == ".." {
                reader.error(
                    value, "\(name) must be a file name, not '\(text)'", hint: "e.g. 'index: index.html', or null")
            } else {
                settings.index = text
            }
        default:
            break
        }
    }

    /// Why a static endpoint's path cannot be a prefix of request paths, or nil when it can.
    static func staticPathProblem(_ text: String) -> String? {
        guard text.hasPrefix("/") else { return "'\(text)' must start with '/'" }
        if text.contains("{") || text.contains("}") { return "'\(text)' is a template; a static path is literal" }
        if text.contains("?") || text.contains("%") || text.contains("\\") {
            return "'\(text)' must be a plain path (no '?', '%' or '\\')"
        }
        if text.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            return "'\(text)' has a '.' or '..' segment"
        }
        return nil
    }

    /// Requires a directory and resolves it against the config file's folder; warns when it is not a
    /// directory here (it may be mounted later, as in a container).
    static func checkStatic(
        _ settings: inout StaticSettings,
        at node: Node,
        entries: [(key: String, keyNode: Node, value: Node)],
        _ path: String,
        baseDirectory: String,
        reader: inout NodeReader
    ) {
        guard !settings.directory.isEmpty else {
            if !entries.contains(where: { $0.key == "directory" }) {
                reader.error(node, "\(path) has no 'directory'", hint: "add e.g. 'directory: ./public'")
            }
            return
        }
        settings.directory = resolve(settings.directory, against: baseDirectory)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: settings.directory, isDirectory: &isDirectory)
            || !isDirectory.boolValue
        {
            reader.warning(
                node, "\(path).directory: '\(settings.directory)' is not a directory here",
                hint: "check the path (relative paths start from the config file's folder)")
        }
    }
}
