import Foundation
import WebSocketEngine
import Yams

/// Turns a conversation file (`wsgate test`) into a ``Conversation``, reporting every problem with its
/// file:line:column like ``ConfigLoader`` does.
public enum ConversationLoader {
    static let topLevelKeys = ConversationReference.topLevel.map(\.name)
    static let connectionKeys = ConversationReference.connection.map(\.name)
    static let actionKeys = ConversationReference.actions.map(\.name)
    static let stepKeys = actionKeys + ConversationReference.stepOptions.map(\.name)

    /// Whether a file is a conversation file rather than a configuration: its name ends in `.test.yaml`
    /// (or `.test.yml`), or its top level has `steps:` and no `version:`.
    public static func isConversation(path: String, yaml: String) -> Bool {
        if path.hasSuffix(".test.yaml") || path.hasSuffix(".test.yml") { return true }
        guard let root = try? Yams.compose(yaml: yaml), case .mapping(let mapping) = root else { return false }
        let keys = Set(mapping.keys.compactMap(\.string))
        return keys.contains("steps") && !keys.contains("version")
    }

    /// Reads and checks a conversation file.
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Conversation {
        let text = try ConfigLoader.readText(path: path, what: "conversation file")
        return try parse(yaml: text, file: path, environment: environment)
    }

    /// Parses and checks conversation YAML; `file` names it in diagnostics and is the default name.
    public static func parse(
        yaml: String,
        file: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Conversation {
        var reader = NodeReader(file: file, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(diagnostics: [ConfigLoader.syntaxDiagnostic(error, file: file)])
        }
        guard let root else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    .error, SourceLocation(file: file, line: 1, column: 1), "the conversation file is empty",
                    hint: "write 'endpoint: /path' and a 'steps:' list")
            ])
        }
        guard let entries = reader.mapping(root, "", known: topLevelKeys) else {
            throw ConfigError(diagnostics: reader.diagnostics)
        }
        var name = URL(fileURLWithPath: file).lastPathComponent
        var timeout = Conversation.defaultTimeout
        var base = ConnectionSpec()
        var clientsNode: Node?
        var stepsNode: Node?
        for (key, _, value) in entries {
            switch key {
            case "name": if let text = reader.string(value, "name") { name = text }
            case "timeout": if let duration = reader.positiveDuration(value, "timeout") { timeout = duration }
            case "clients": clientsNode = value
            case "steps": stepsNode = value
            default: base.read(key, value, path: key, reader: &reader)
            }
        }
        let (clients, declared) = readClients(clientsNode, base: base, root: root, reader: &reader)
        var steps: [Step] = []
        if let stepsNode {
            steps = readSteps(stepsNode, clients: declared, timeout: timeout, reader: &reader)
        } else {
            reader.error(root, "the conversation has no 'steps'", hint: "add a 'steps:' list, e.g. '- expect: hello'")
        }
        let diagnostics = reader.diagnostics.enumerated().sorted { a, b in
            (a.element.location.line, a.element.location.column, a.offset)
                < (b.element.location.line, b.element.location.column, b.offset)
        }.map(\.element)
        if !diagnostics.isEmpty { throw ConfigError(diagnostics: diagnostics) }
        return Conversation(name: name, file: file, clients: clients, steps: steps)
    }

    // MARK: - Clients

    static func readClients(
        _ node: Node?, base: ConnectionSpec, root: Node, reader: inout NodeReader
    ) -> (clients: [Conversation.Client], declared: [String]) {
        guard let node else {
            let client = base.client(named: Conversation.defaultClientName, at: root, reader: &reader)
            return (client.map { [$0] } ?? [], [Conversation.defaultClientName])
        }
        var clients: [Conversation.Client] = []
        var names: [String] = []
        func add(_ name: String, _ keyNode: Node, _ spec: ConnectionSpec, reader: inout NodeReader) {
            guard checkClientName(name, keyNode, reader: &reader) else { return }
            guard !names.contains(name) else {
                reader.error(keyNode, "client '\(name)' is declared twice", hint: "give each client its own name")
                return
            }
            names.append(name)
            if let client = spec.client(named: name, at: keyNode, reader: &reader) { clients.append(client) }
        }
        switch node {
        case .sequence(let sequence) where sequence.isEmpty:
            reader.error(node, "clients is empty", hint: "name at least one client, e.g. clients: [ann]")
        case .mapping(let mapping) where mapping.isEmpty:
            reader.error(node, "clients is empty", hint: "name at least one client, e.g. clients: [ann]")
        case .sequence(let sequence):
            for item in sequence {
                guard let name = reader.string(item, "clients item") else { continue }
                add(name, item, base, reader: &reader)
            }
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                guard let name = keyNode.string else {
                    reader.error(keyNode, "client names must be plain words")
                    continue
                }
                var spec = base
                if !NodeReader.isNull(value),
                    let entries = reader.mapping(value, "clients.\(name)", known: connectionKeys)
                {
                    for (key, _, entry) in entries {
                        spec.read(key, entry, path: "clients.\(name).\(key)", reader: &reader)
                    }
                }
                add(name, keyNode, spec, reader: &reader)
            }
        default:
            reader.error(
                node, "clients must be a list of names or a mapping of names to connection settings",
                hint: "e.g. clients: [ann, bob]")
        }
        return (clients, names)
    }

    static func checkClientName(_ name: String, _ node: Node, reader: inout NodeReader) -> Bool {
        if stepKeys.contains(name) {
            reader.error(
                node, "'\(name)' cannot name a client: it is a step keyword", hint: "call the client something else")
            return false
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else {
            reader.error(node, "client name '\(name)' is not a plain word", hint: "use letters, digits, '_' and '-'")
            return false
        }
        return true
    }

    // MARK: - Steps

    /// What the loader knows about a client while reading steps in order.
    enum ClientState { case fresh, connected, refused, gone }

    static func readSteps(_ node: Node, clients: [String], timeout: Duration, reader: inout NodeReader) -> [Step] {
        guard case .sequence(let items) = node, !items.isEmpty else {
            reader.error(node, "steps must be a non-empty list", hint: "write each step as a '- send: …' line")
            return []
        }
        var steps: [Step] = []
        var states = Dictionary(uniqueKeysWithValues: clients.map { ($0, ClientState.fresh) })
        for (index, item) in items.enumerated() {
            let path = "steps[\(index)]"
            guard let (client, body, besideName) = stepClient(item, path, clients: clients, reader: &reader) else {
                continue
            }
            guard let (action, ownTimeout) = readAction(body, path, reader: &reader) else { continue }
            let nameTimeout = besideName.flatMap { reader.positiveDuration($0, "\(path).timeout") }
            let step = Step(
                client: client, action: action, timeout: ownTimeout ?? nameTimeout ?? timeout,
                location: reader.location(item))
            checkOrder(step, item, path, states: &states, reader: &reader)
            steps.append(step)
        }
        return steps
    }

    /// Which client a step is for, the step without the client name, and a `timeout:` written beside the
    /// name (`- ann: { expect: hi }` with `timeout: 1s` on the next line).
    static func stepClient(
        _ item: Node, _ path: String, clients: [String], reader: inout NodeReader
    ) -> (String, Node, Node?)? {
        if case .mapping(let mapping) = item {
            let named = mapping.filter { !stepKeys.contains($0.key.string ?? "") }
            let options = mapping.filter { ConversationReference.stepOptions.map(\.name).contains($0.key.string ?? "") }
            if named.count == 1, let (keyNode, value) = named.first, let key = keyNode.string,
                named.count + options.count == mapping.count
            {
                if clients.contains(key) { return (key, value, options.first?.value) }
                if mapping.count == 1 {
                    let suggestion = closestMatch(to: key, in: stepKeys + clients).map { "did you mean '\($0)'?" }
                    reader.error(
                        keyNode, "unknown key '\(key)' in \(path): neither a step nor a client",
                        hint: suggestion
                            ?? "steps are \(actionKeys.joined(separator: ", ")); clients are \(clients.joined(separator: ", "))"
                    )
                    return nil
                }
            }
        }
        guard clients.count == 1, let only = clients.first else {
            if !clients.isEmpty {
                reader.error(
                    item, "\(path) does not say which client acts",
                    hint: "start it with a client's name, e.g. '- \(clients[0]): { send: hello }'")
            }
            return nil
        }
        return (only, item, nil)
    }

    /// The action of a step body (`send: hi`, `connect`, `{ expect: hi, timeout: 1s }` …) and its own timeout.
    static func readAction(_ body: Node, _ path: String, reader: inout NodeReader) -> (Step.Action, Duration?)? {
        if case .scalar(let scalar) = body {
            let word = scalar.string
            guard ConversationReference.bareActions.contains(word) else {
                let hint =
                    actionKeys.contains(word)
                    ? "'\(word)' needs a value, e.g. '\(word): …'"
                    : closestMatch(to: word, in: actionKeys).map { "did you mean '\($0)'?" }
                        ?? "write a step such as 'send: hello' or 'expect: hello'"
                reader.error(body, "\(path) '\(word)' is not a step", hint: hint)
                return nil
            }
            return action(word, nil, at: body, "\(path).\(word)", reader: &reader).map { ($0, nil) }
        }
        guard let entries = reader.mapping(body, path, known: stepKeys) else { return nil }
        var timeout: Duration?
        var actions: [(String, Node)] = []
        for (key, _, value) in entries {
            if key == "timeout" {
                timeout = reader.positiveDuration(value, "\(path).timeout")
            } else {
                actions.append((key, value))
            }
        }
        guard let (key, value) = actions.first else {
            reader.error(body, "\(path) does nothing", hint: "give it one of: \(actionKeys.joined(separator: ", "))")
            return nil
        }
        if actions.count > 1 {
            reader.error(
                body, "\(path) has \(actions.map { "'\($0.0)'" }.joined(separator: " and "))",
                hint: "a step does one thing: write them as separate steps")
            return nil
        }
        return action(key, value, at: value, "\(path).\(key)", reader: &reader).map { ($0, timeout) }
    }

    /// Rules across steps: a refused client does nothing else; a dropped one neither.
    static func checkOrder(
        _ step: Step, _ node: Node, _ path: String, states: inout [String: ClientState], reader: inout NodeReader
    ) {
        let state = states[step.client] ?? .fresh
        switch (state, step.action) {
        case (.refused, _):
            reader.error(
                node, "\(path): \(step.client)'s handshake was refused by an earlier expect_status",
                hint: "use another client for a second connection")
        case (.gone, _):
            reader.error(
                node, "\(path): \(step.client) has disconnected", hint: "use another client for a second connection")
        case (.connected, .expectStatus), (.connected, .connect):
            reader.error(
                node, "\(path): \(step.client) is already connected by then",
                hint: "\(step.action.keyword) must be the client's first step")
        case (_, .expectStatus):
            states[step.client] = .refused
        case (_, .disconnect):
            states[step.client] = .gone
        case (_, .wait):
            break
        default:
            states[step.client] = .connected
        }
    }
}

/// Connection keys as read, before a client's own keys are merged over the top-level ones.
struct ConnectionSpec {
    var endpoint: String?
    var query: [(String, String)] = []
    var headers: [(String, String)] = []
    var subprotocols: [String]?

    mutating func read(_ key: String, _ value: Node, path: String, reader: inout NodeReader) {
        switch key {
        case "endpoint":
            guard let text = reader.string(value, path) else { return }
            guard text.hasPrefix("/") else {
                reader.error(value, "\(path) must start with '/', not '\(text)'", hint: "e.g. endpoint: /echo")
                return
            }
            endpoint = text
        case "query":
            for pair in ConversationLoader.stringMap(value, path, reader: &reader) {
                query.removeAll { $0.0 == pair.0 }
                query.append(pair)
            }
        case "headers":
            for pair in ConversationLoader.stringMap(value, path, reader: &reader) {
                headers.removeAll { $0.0.lowercased() == pair.0.lowercased() }
                headers.append(pair)
            }
        case "subprotocols":
            subprotocols = reader.stringList(value, path)
        default:
            break
        }
    }

    func client(named name: String, at node: Node, reader: inout NodeReader) -> Conversation.Client? {
        guard let endpoint else {
            reader.error(
                node,
                "no endpoint for \(name == Conversation.defaultClientName ? "the conversation" : "client '\(name)'")",
                hint: "add 'endpoint: /path' at the top level or under the client")
            return nil
        }
        var target = endpoint
        if !query.isEmpty {
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+#")
            let encoded = query.map { name, value in
                "\(name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name)="
                    + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
            }
            target += (endpoint.contains("?") ? "&" : "?") + encoded.joined(separator: "&")
        }
        var fields = headers.map { Conversation.Header($0.0, $0.1) }
        if let subprotocols, !subprotocols.isEmpty {
            fields.append(Conversation.Header("Sec-WebSocket-Protocol", subprotocols.joined(separator: ", ")))
        }
        return Conversation.Client(name: name, target: target, headers: fields)
    }
}

extension NodeReader {
    /// A duration above zero.
    mutating func positiveDuration(_ node: Node, _ path: String) -> Duration? {
        guard let value = duration(node, path) else { return nil }
        guard value > .zero else {
            error(node, "\(path) must be longer than 0", hint: "e.g. 200ms or 2s")
            return nil
        }
        return value
    }
}
