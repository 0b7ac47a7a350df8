import Foundation
import WebSocketEngine
import Yams

/// A configuration that passed validation, with the warnings it raised.
public struct LoadedConfiguration: Sendable {
    public var configuration: GatewayConfiguration
    public var warnings: [ConfigDiagnostic]
}

/// Turns a YAML file into a ``GatewayConfiguration``, reporting every problem with its file:line:column.
public enum ConfigLoader {
    /// The `version:` this build reads.
    public static let supportedVersion = 1

    static let topLevelKeys = ConfigReference.topLevel.map(\.name)
    static let serverKeys = ConfigReference.server.map(\.name)
    static let settingKeys = ConfigReference.settings.map(\.name)
    static let deflateKeys = ConfigReference.deflate.map(\.name)
    static let endpointKinds: [String: [String]] = Dictionary(
        uniqueKeysWithValues: ConfigReference.endpointTypes.map { ($0.name, $0.keys.map(\.name)) }
    )

    /// Reads and validates a file. Relative paths in it resolve against its folder.
    public static func load(
        path: String,
        customExtensions: Set<String> = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> LoadedConfiguration {
        let text = try readText(path: path, what: "configuration file")
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(
            yaml: text,
            file: path,
            baseDirectory: folder,
            customExtensions: customExtensions,
            environment: environment
        )
    }

    /// A file's text, or an error saying the file cannot be read (`what`: "configuration file", …).
    static func readText(path: String, what: String) throws(ConfigError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    .error, SourceLocation(file: path, line: 1, column: 1),
                    "cannot read the \(what) (\(error.localizedDescription))",
                    hint: "check the path and its permissions")
            ])
        }
    }

    /// Parses and validates YAML text; `file` names it in diagnostics. `customExtensions` are the
    /// extension names a custom build registered (see `ExtensionRegistry` in the Gateway module);
    /// `${NAME}` and `${NAME:-fallback}` in values read `environment`.
    public static func parse(
        yaml: String,
        file: String,
        baseDirectory: String,
        customExtensions: Set<String> = [],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> LoadedConfiguration {
        var reader = NodeReader(file: file, customExtensions: customExtensions, environment: environment)
        reader.baseDirectory = baseDirectory
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(diagnostics: [syntaxDiagnostic(error, file: file)])
        }
        guard let root else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    .error,
                    SourceLocation(file: file, line: 1, column: 1),
                    "the configuration is empty",
                    hint: "start with 'version: 1' and an 'endpoints:' list"
                )
            ])
        }
        var configuration = GatewayConfiguration(baseDirectory: baseDirectory)
        guard let entries = reader.mapping(root, "", known: topLevelKeys) else {
            throw ConfigError(diagnostics: reader.diagnostics)
        }
        var endpointsNode: Node?
        var defaultsNode: Node?
        var sawVersion = false
        var serverNode: Node?
        var brokerNode: Node?
        for (key, _, value) in entries {
            switch key {
            case "version":
                sawVersion = true
                if let version = reader.integer(value, "version", range: 0...Int.max), version != supportedVersion {
                    reader.error(
                        value,
                        "version \(version) is not understood by this wsgate, which reads version \(supportedVersion)",
                        hint: version > supportedVersion
                            ? "upgrade wsgate, or write the file for version \(supportedVersion)"
                            : "write 'version: \(supportedVersion)'"
                    )
                }
            case "server":
                readServer(value, into: &configuration.server, baseDirectory: baseDirectory, reader: &reader)
                serverNode = value
            case "defaults":
                defaultsNode = value
            case "endpoints":
                endpointsNode = value
            case "broker":
                configuration.broker = readBroker(value, reader: &reader)
                brokerNode = value
            default:
                break
            }
        }
        if !sawVersion {
            reader.error(root, "the file has no 'version'", hint: "add 'version: 1' as its first line")
        }
        if let defaultsNode {
            readSettingsMapping(defaultsNode, "defaults", into: &configuration.defaults, reader: &reader)
            checkSettings(configuration.defaults, at: defaultsNode, "defaults", reader: &reader)
        }
        if let endpointsNode {
            configuration.endpoints = readEndpoints(
                endpointsNode,
                defaults: configuration.defaults,
                baseDirectory: baseDirectory,
                reader: &reader
            )
        } else {
            reader.error(
                root, "the file declares no 'endpoints'",
                hint: "add an 'endpoints:' list, e.g. '- { path: /echo, type: echo }'")
        }
        checkServer(configuration, at: serverNode ?? root, reader: &reader)
        checkBroker(configuration, at: brokerNode, reader: &reader)
        // Report in file order, whatever order the checks ran in.
        let diagnostics = reader.diagnostics.enumerated().sorted { a, b in
            (a.element.location.line, a.element.location.column, a.offset)
                < (b.element.location.line, b.element.location.column, b.offset)
        }.map(\.element)
        if diagnostics.contains(where: { $0.severity == .error }) { throw ConfigError(diagnostics: diagnostics) }
        return LoadedConfiguration(configuration: configuration, warnings: diagnostics)
    }

    static func syntaxDiagnostic(_ error: any Error, file: String) -> ConfigDiagnostic {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                return ConfigDiagnostic(
                    .error,
                    SourceLocation(file: file, line: mark.line, column: mark.column),
                    "YAML syntax error: \(problem)",
                    hint: "check the indentation and quoting at this place"
                )
            case .duplicatedKeysInMapping(let duplicates, let context):
                return ConfigDiagnostic(
                    .error,
                    SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                    "key \(duplicates.joined(separator: ", ")) is set twice",
                    hint: "keep one of them"
                )
            default:
                break
            }
        }
        return ConfigDiagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "cannot read YAML: \(error)")
    }

    static func readServer(
        _ node: Node, into server: inout ServerSettings, baseDirectory: String, reader: inout NodeReader
    ) {
        guard let entries = reader.mapping(node, "server", known: serverKeys) else {
            return
        }
        for (key, _, value) in entries {
            switch key {
            case "listen":
                guard let text = reader.string(value, "server.listen") else { continue }
                if let address = ListenAddress(parsing: text) {
                    server.listen = address
                } else {
                    reader.error(
                        value, "server.listen must be host:port, not '\(text)'",
                        hint: "e.g. 0.0.0.0:8080 or 127.0.0.1:9001")
                }
            case "max_connections":
                if let value = reader.integer(value, "server.max_connections", range: 1...10_000_000) {
                    server.maxConnections = value
                }
            case "max_connections_per_ip":
                if let value = readCountOrUnlimited(value, "server.max_connections_per_ip", reader: &reader) {
                    server.maxConnectionsPerIP = value
                }
            case "new_connections":
                if let value = readConnectionRate(value, "server.new_connections", reader: &reader) {
                    server.newConnections = value
                }
            case "new_connections_per_ip":
                if let value = readConnectionRate(value, "server.new_connections_per_ip", reader: &reader) {
                    server.newConnectionsPerIP = value
                }
            case "handshake_timeout":
                if let value = reader.duration(value, "server.handshake_timeout") { server.handshakeTimeout = value }
            case "shutdown_grace":
                if let value = reader.duration(value, "server.shutdown_grace") { server.shutdownGrace = value }
            case "shutdown_spread":
                if let value = reader.duration(value, "server.shutdown_spread") { server.shutdownSpread = value }
            case "health_path":
                if let path = readHTTPPath(value, "server.health_path", reader: &reader) { server.healthPath = path }
            case "metrics_path":
                if let path = readHTTPPath(value, "server.metrics_path", reader: &reader) { server.metricsPath = path }
            case "console_path":
                if let path = readHTTPPath(value, "server.console_path", reader: &reader) { server.consolePath = path }
            case "tls":
                readTLS(value, into: &server, baseDirectory: baseDirectory, reader: &reader)
            case "log":
                readLog(value, into: &server, reader: &reader)
            case "api":
                readAPI(value, into: &server, reader: &reader)
            default:
                break
            }
        }
    }

    /// Applies one endpoint setting; returns false when `key` is not a setting.
    @discardableResult
    static func applySetting(
        _ key: String,
        _ value: Node,
        _ path: String,
        into settings: inout EndpointSettings,
        reader: inout NodeReader
    ) -> Bool {
        let name = "\(path).\(key)"
        switch key {
        case "ping_period":
            if let v = reader.duration(value, name) { settings.options.pingPeriod = v }
        case "timeout":
            if let v = reader.duration(value, name) { settings.options.timeout = v }
        case "idle_timeout":
            if let v = reader.duration(value, name) { settings.options.idleTimeout = v }
        case "max_frame_size":
            if let v = reader.size(value, name) { settings.options.maxFrameSize = v }
        case "max_message_size":
            if let v = reader.size(value, name) { settings.options.maxMessageSize = v }
        case "masking":
            if let v = reader.bool(value, name) {
                settings.options.masking = v
                if v {
                    reader.warning(
                        value, "\(name): true masks server frames, which browsers refuse",
                        hint: "use it only for clients that require it")
                }
            }
        case "allowed_origins":
            if let v = reader.stringList(value, name) {
                if v.isEmpty {
                    reader.error(
                        value, "\(name) is empty, so no browser could connect",
                        hint: "list origins such as \"https://example.com\", or [\"*\"] for any")
                } else {
                    settings.allowedOrigins = v
                }
            }
        case "subprotocols":
            if let v = reader.stringList(value, name) { settings.subprotocols = v }
        case "extensions":
            readExtensions(value, name, into: &settings.extensions, reader: &reader)
        case "rate":
            readMessageRate(value, name, into: &settings.rate, reader: &reader)
        case "max_connections_per_ip":
            if let v = readCountOrUnlimited(value, name, reader: &reader) {
                settings.options.maxConnectionsPerAddress = v
            }
        case "auth":
            if let v = readAuth(value, name, reader: &reader) { settings.auth = v }
        default:
            return false
        }
        return true
    }

    static func readSettingsMapping(
        _ node: Node,
        _ path: String,
        into settings: inout EndpointSettings,
        reader: inout NodeReader
    ) {
        guard let entries = reader.mapping(node, path, known: settingKeys) else { return }
        for (key, _, value) in entries {
            applySetting(key, value, path, into: &settings, reader: &reader)
        }
    }

    /// Reports contradictory limits; a contradiction already present in `inherited` (reported at
    /// `defaults:`) is not reported again for each endpoint.
    static func checkSettings(
        _ settings: EndpointSettings,
        at node: Node,
        _ path: String,
        inherited: EndpointSettings? = nil,
        reader: inout NodeReader
    ) {
        let options = settings.options
        let base = inherited?.options
        let sameLimits = base?.maxFrameSize == options.maxFrameSize && base?.maxMessageSize == options.maxMessageSize
        let sameKeepAlive = base?.pingPeriod == options.pingPeriod && base?.timeout == options.timeout
        if options.maxFrameSize > options.maxMessageSize && !sameLimits {
            reader.error(
                node,
                "\(path): max_frame_size (\(options.maxFrameSize) bytes) is larger than max_message_size (\(options.maxMessageSize) bytes)",
                hint: "a frame is part of a message: raise max_message_size or lower max_frame_size"
            )
        }
        if options.pingPeriod > .zero && options.timeout == .zero && !sameKeepAlive {
            reader.error(
                node,
                "\(path): timeout is 0 while ping_period is on, so every ping would time out at once",
                hint: "set timeout to e.g. 15s, or ping_period: 0 to disable pings"
            )
        }
    }

    static func readEndpoints(
        _ node: Node,
        defaults: EndpointSettings,
        baseDirectory: String,
        reader: inout NodeReader
    ) -> [EndpointConfiguration] {
        guard case .sequence(let sequence) = node else {
            reader.error(node, "endpoints must be a list", hint: "start each endpoint with '- path: /…'")
            return []
        }
        if sequence.isEmpty {
            reader.error(
                node, "endpoints is empty", hint: "add at least one endpoint, e.g. '- { path: /echo, type: echo }'")
        }
        var endpoints: [EndpointConfiguration] = []
        var paths: [PathTemplate: SourceLocation] = [:]
        // A static endpoint may share its path with one WebSocket endpoint, never with another static one.
        var staticPaths: [String: SourceLocation] = [:]
        for (index, item) in sequence.enumerated() {
            let path = "endpoints[\(index)]"
            guard case .mapping(let mapping) = item else {
                reader.error(item, "\(path) must be a mapping with at least 'path' and 'type'")
                continue
            }
            // The type decides which keys are allowed, so read it first.
            let typeNode = mapping.first { $0.key.string == "type" }?.value
            guard let typeNode, let type = reader.string(typeNode, "\(path).type") else {
                reader.error(item, "\(path) has no 'type'", hint: "add 'type: echo'")
                continue
            }
            guard let kindKeys = endpointKinds[type] else {
                let known = endpointKinds.keys.sorted()
                let suggestion = closestMatch(to: type, in: known).map { "did you mean '\($0)'?" }
                reader.error(
                    typeNode, "\(path).type '\(type)' is not an endpoint type",
                    hint: suggestion ?? "use one of: \(endpointKinds.keys.sorted().joined(separator: ", "))")
                continue
            }
            let isStatic = ConfigReference.plainTypes.contains(type)
            guard
                let entries = reader.mapping(
                    item, path,
                    known: ConfigReference.endpointBase.map(\.name) + (isStatic ? [] : settingKeys) + kindKeys)
            else { continue }
            var settings = defaults
            var routePath: String?
            var echo = EchoSettings()
            var broadcast = BroadcastSettings()
            var process = ProcessSettings()
            var files = StaticSettings()
            var proxy = ProxySettings()
            var template: PathTemplate?
            for (key, _, value) in entries {
                if isStatic && key != "path" {
                    readStaticKey(key, value, "\(path).\(key)", into: &files, reader: &reader)
                    continue
                }
                if !isStatic && applySetting(key, value, path, into: &settings, reader: &reader) { continue }
                if type == "broadcast" && key != "path" {
                    readBroadcastKey(key, value, "\(path).\(key)", into: &broadcast, reader: &reader)
                    continue
                }
                if type == "proxy" && key != "path" {
                    readProxyKey(
                        key, value, "\(path).\(key)", into: &proxy, baseDirectory: baseDirectory, reader: &reader)
                    continue
                }
                if type == "process" && key != "path" {
                    readProcessKey(key, value, "\(path).\(key)", into: &process, reader: &reader)
                    continue
                }
                switch key {
                case "path" where isStatic:
                    guard let text = reader.string(value, "\(path).path") else { continue }
                    if let problem = staticPathProblem(text) {
                        reader.error(value, "\(path).path: \(problem)", hint: "e.g. 'path: /' or 'path: /static'")
                    } else if let first = staticPaths[text] {
                        reader.error(
                            value, "path \(text) serves static files twice (first at \(first))",
                            hint: "give each static endpoint its own path, or merge the directories")
                    } else {
                        staticPaths[text] = reader.location(value)
                        routePath = text
                    }
                case "path":
                    guard let text = reader.string(value, "\(path).path") else { continue }
                    do {
                        let parsed = try PathTemplate(text)
                        template = parsed
                        if let first = paths[parsed] {
                            reader.error(
                                value, "path \(text) is declared twice (first at \(first))",
                                hint:
                                    "give each endpoint its own path; only a 'type: static' endpoint may share the path of a WebSocket endpoint"
                            )
                        } else {
                            paths[parsed] = reader.location(value)
                            routePath = text
                        }
                    } catch {
                        reader.error(value, "\(path).path: \(error.description)")
                    }
                case "greeting":
                    if let v = reader.optionalString(value, "\(path).greeting") { echo.greeting = v }
                case "reply":
                    if let v = reader.optionalString(value, "\(path).reply") { echo.reply = v }
                case "bye":
                    echo.bye = readBye(value, "\(path).bye", reader: &reader)
                default:
                    break
                }
            }
            if type == "broadcast" {
                settings.options.maxQueuedBytes = broadcast.maxQueue
                checkBroadcast(
                    broadcast, template: template, entries: entries, path, claims: settings.auth != nil, reader: &reader
                )
            }
            if type == "process" {
                checkProcess(&process, at: item, path, baseDirectory: baseDirectory, reader: &reader)
            }
            if type == "proxy" {
                checkProxyHeaders(proxy, entries: entries, path, claims: settings.auth != nil, reader: &reader)
            }
            if type == "proxy" && !entries.contains(where: { $0.key == "upstream" }) {
                reader.error(item, "\(path) has no 'upstream'", hint: "add e.g. 'upstream: ws://backend:9000/live'")
            }
            if isStatic {
                checkStatic(&files, at: item, entries: entries, path, baseDirectory: baseDirectory, reader: &reader)
            } else {
                checkSettings(settings, at: item, path, inherited: defaults, reader: &reader)
                checkAuth(settings, type: type, at: item, path, reader: &reader)
            }
            guard let routePath else {
                if !entries.contains(where: { $0.key == "path" }) {
                    reader.error(item, "\(path) has no 'path'", hint: "add e.g. 'path: /echo'")
                }
                continue
            }
            endpoints.append(
                EndpointConfiguration(
                    path: routePath, settings: settings,
                    kind: isStatic
                        ? .staticFiles(files)
                        : type == "broadcast"
                            ? .broadcast(broadcast)
                            : type == "process" ? .process(process) : type == "proxy" ? .proxy(proxy) : .echo(echo),
                    location: reader.location(item))
            )
        }
        return endpoints
    }

    static func readBye(_ node: Node, _ path: String, reader: inout NodeReader) -> ByeRule? {
        if NodeReader.isNull(node) { return nil }
        if case .scalar = node, let text = reader.string(node, path) { return ByeRule(text: text) }
        guard let entries = reader.mapping(node, path, known: ConfigReference.bye.map(\.name)) else { return nil }
        var rule = ByeRule(text: "")
        var sawText = false
        for (key, _, value) in entries {
            switch key {
            case "text":
                if let v = reader.string(value, "\(path).text") {
                    rule.text = v
                    sawText = true
                }
            case "ignore_case":
                if let v = reader.bool(value, "\(path).ignore_case") { rule.ignoreCase = v }
            case "reason":
                if let v = reader.string(value, "\(path).reason") {
                    if v.utf8.count > 123 {
                        reader.error(
                            value, "\(path).reason is \(v.utf8.count) bytes; a close reason holds at most 123",
                            hint: "shorten it")
                    }
                    rule.reason = v
                }
            default:
                break
            }
        }
        if !sawText {
            reader.error(node, "\(path) has no 'text'", hint: "add e.g. 'text: bye'")
            return nil
        }
        return rule
    }
}
