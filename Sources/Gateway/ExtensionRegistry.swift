import GatewayConfig
import WebSocketEngine

/// The WebSocket extensions a wsgate build can configure from YAML, by name.
///
/// permessage-deflate is built in. A custom build registers more and runs the command line with them:
///
/// ```swift
/// var registry = ExtensionRegistry.standard
/// registry.register("x-flip") { parameters in FlipFactory(parameters) }
/// await ExtensionRegistry.$current.withValue(registry) { await WSGateCommand.runMain() }
/// ```
/// after which `extensions: { x-flip: { … } }` is valid in that build's configuration files.
public struct ExtensionRegistry: Sendable {
    /// Makes a factory from the parameters written in YAML (all values as text).
    public typealias Builder = @Sendable (_ parameters: [String: String]) throws -> any WebSocketExtensionFactory

    private var builders: [String: Builder] = [:]

    /// The registry with only the built-in extensions.
    public static let standard = ExtensionRegistry()

    /// The registry the command line uses; bind it with `$current.withValue` in a custom build.
    @TaskLocal public static var current: ExtensionRegistry = .standard

    /// Registers (or replaces) an extension under `name`, the token clients offer.
    public mutating func register(_ name: String, builder: @escaping Builder) {
        builders[name] = builder
    }

    /// The names registered besides the built-in ones.
    public var customNames: Set<String> { Set(builders.keys) }

    /// The factories for an endpoint's `extensions:`, in order.
    func factories(for settings: [ExtensionSetting]) throws -> [any WebSocketExtensionFactory] {
        try settings.map { setting in
            switch setting {
            case .permessageDeflate(let configuration):
                return PerMessageDeflateFactory(configuration)
            case .custom(let name, let parameters):
                guard let builder = builders[name] else {
                    throw GatewayError("extension '\(name)' is not registered in this build of wsgate")
                }
                return try builder(parameters)
            }
        }
    }
}

/// A problem turning a valid configuration into running endpoints.
public struct GatewayError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
