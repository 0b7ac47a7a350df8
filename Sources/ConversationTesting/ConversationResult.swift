import GatewayConfig

/// How one conversation file went.
public struct ConversationResult: Sendable, Equatable {
    /// The conversation's name (its file name when the file could not be read).
    public var name: String
    /// The conversation file, as given.
    public var file: String
    /// How long it ran.
    public var duration: Duration
    /// Why it failed; nil when it passed.
    public var failure: Failure?

    public init(name: String, file: String, duration: Duration, failure: Failure? = nil) {
        self.name = name
        self.file = file
        self.duration = duration
        self.failure = failure
    }

    /// Whether every step got what it expected.
    public var passed: Bool { failure == nil }

    /// Where and why a conversation failed.
    public struct Failure: Sendable, Equatable {
        /// What kind of failure: a step that did not get what it expected, or a file that cannot run.
        public enum Kind: String, Sendable, Equatable {
            case step, invalid
        }

        public var kind: Kind
        /// Where: the failing step, or the problem in the file.
        public var location: SourceLocation
        /// What failed, e.g. `step 3 (expect)` or `step 5, bob: expect_close`, or the problems of an invalid file.
        public var summary: String
        /// What the step expected.
        public var expected: String?
        /// What happened instead.
        public var actual: String?
        /// More lines, such as every problem of an invalid file.
        public var notes: [String]

        public init(
            kind: Kind = .step, location: SourceLocation, summary: String, expected: String? = nil,
            actual: String? = nil, notes: [String] = []
        ) {
            self.kind = kind
            self.location = location
            self.summary = summary
            self.expected = expected
            self.actual = actual
            self.notes = notes
        }

        /// A step's failure: `step N (keyword)`, naming the client when the conversation has several.
        public init(step: Step, number: Int, namingClient: Bool, expected: String, actual: String) {
            let what =
                namingClient
                ? "step \(number), \(step.client): \(step.action.keyword)" : "step \(number) (\(step.action.keyword))"
            self.init(location: step.location, summary: what, expected: expected, actual: actual)
        }

        /// A file that could not be loaded: located at its first problem, listing them all.
        public init(invalid diagnostics: [ConfigDiagnostic], file: String) {
            let count = diagnostics.count
            self.init(
                kind: .invalid,
                location: diagnostics.first?.location ?? SourceLocation(file: file, line: 1, column: 1),
                summary: "invalid conversation file (\(count) \(count == 1 ? "problem" : "problems"))",
                notes: diagnostics.map(\.description)
            )
        }
    }
}
