/// One endpoint as the console lists it.
public struct ConsoleEndpoint: Sendable, Equatable {
    /// The route, possibly a template such as `/rooms/{room}` that the person fills in before connecting.
    public var path: String
    /// The endpoint type as the configuration names it: `echo`, `broadcast` or `process`.
    public var type: String
    /// The subprotocols the endpoint accepts, in server preference order; the console offers them all.
    public var subprotocols: [String]

    /// An endpoint at `path` of `type`, accepting `subprotocols`.
    public init(path: String, type: String, subprotocols: [String] = []) {
        self.path = path
        self.type = type
        self.subprotocols = subprotocols
    }
}

/// The dev console: one self-contained HTML page (inline CSS and JavaScript, nothing fetched from
/// anywhere) that lists the endpoints and lets a person connect to one, send text, and watch messages,
/// errors and close codes.
///
/// Everything that comes from the network or the configuration reaches the DOM through `textContent`,
/// never as markup. The page also takes its instructions from its own query string, so a headless
/// browser can drive it without clicks: `?connect=/echo&send=JetBrains&send=bye` connects to `/echo`
/// and sends `JetBrains`, then `bye`, once the connection is open (`query=` and `protocols=` fill in
/// those fields). The log is `<ol id="log">` with one `<li>` per event, of class `sent`, `recv`,
/// `open`, `close` (with `data-code` and `data-reason`), `error` or `info`; each has a `.body`. The
/// connection state (`connecting`, `open`, `closing`, `closed`) is the text and the `data-state` of
/// `#state`.
///
/// The markup, style and script are `console.html`, `console.css` and `console.js` beside this file,
/// compiled into the binary; this type only fills in the version and the endpoint list.
public enum ConsolePage {
    /// The page, with the endpoint list embedded as JSON (escape `<` as \u003c so `</script>` in a path
    /// cannot break out).
    ///
    /// The result depends only on its arguments: compute it once per configuration.
    public static func html(endpoints: [ConsoleEndpoint], version: String) -> String {
        template.head + htmlEscaped(version) + template.middle + endpointsJSON(endpoints) + template.tail
    }

    /// The endpoint list as a JSON array of `{"path", "type", "subprotocols"}` objects that can sit
    /// inside a `<script>` element: `<`, `>` and `&` are written as `\u003c`, `\u003e` and `\u0026`.
    static func endpointsJSON(_ endpoints: [ConsoleEndpoint]) -> String {
        let objects = endpoints.map { endpoint in
            let subprotocols = endpoint.subprotocols.map(JSONText.quoted).joined(separator: ",")
            return #"{"path":\#(JSONText.quoted(endpoint.path)),"type":\#(JSONText.quoted(endpoint.type)),"#
                + #""subprotocols":[\#(subprotocols)]}"#
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    /// `text` with the five HTML special characters replaced by entities.
    static func htmlEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    // MARK: - Files

    /// `console.html` with `console.css` and `console.js` in place, cut where the version and the
    /// endpoint list go. The three files are embedded at build time (Package.swift, `.embedInCode`).
    static let template = Template(
        html: String(decoding: PackageResources.console_html, as: UTF8.self),
        style: String(decoding: PackageResources.console_css, as: UTF8.self),
        script: String(decoding: PackageResources.console_js, as: UTF8.self)
    )

    /// The page around its two variable parts.
    struct Template {
        /// Up to the version.
        let head: String
        /// Between the version and the endpoint list.
        let middle: String
        /// After the endpoint list.
        let tail: String

        /// Fills `{{style}}` and `{{script}}` in `html` (each file's final newline dropped) and cuts it at
        /// `{{version}}` and `{{endpoints}}`. A placeholder missing from the file leaves that part empty
        /// (ConsolePageTests checks the page as built).
        init(html: String, style: String, script: String) {
            func trimmed(_ text: String) -> String { text.hasSuffix("\n") ? String(text.dropLast()) : text }
            let page = html.replacing("{{style}}", with: trimmed(style))
                .replacing("{{script}}", with: trimmed(script))
            let version = page.split(separator: "{{version}}", maxSplits: 1, omittingEmptySubsequences: false)
            let rest = version.count == 2 ? String(version[1]) : ""
            let endpoints = rest.split(separator: "{{endpoints}}", maxSplits: 1, omittingEmptySubsequences: false)
            head = String(version[0])
            middle = String(endpoints[0])
            tail = endpoints.count == 2 ? String(endpoints[1]) : ""
        }
    }
}
