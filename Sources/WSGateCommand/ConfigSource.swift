import Foundation
import Gateway
import GatewayConfig

/// Where `serve` takes its configuration from: the file given, ./wsgate.yaml, or the embedded default.
enum ConfigSource {
    static func load(_ path: String?) throws(ConfigError) -> (LoadedConfiguration, description: String) {
        let custom = ExtensionRegistry.current.customNames
        if let path {
            return (try ConfigLoader.load(path: path, customExtensions: custom), path)
        }
        if FileManager.default.fileExists(atPath: "wsgate.yaml") {
            return (try ConfigLoader.load(path: "wsgate.yaml", customExtensions: custom), "wsgate.yaml")
        }
        let loaded = try ConfigLoader.parse(
            yaml: Gateway.embeddedDefaultConfiguration,
            file: "<embedded>",
            baseDirectory: FileManager.default.currentDirectoryPath,
            customExtensions: custom
        )
        return (loaded, "the embedded default configuration")
    }

    /// Prints diagnostics to standard error, one per line.
    static func report(_ diagnostics: [ConfigDiagnostic]) {
        for diagnostic in diagnostics {
            FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
        }
    }
}
