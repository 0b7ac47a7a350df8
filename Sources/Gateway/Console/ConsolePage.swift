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
public enum ConsolePage {
    /// The page, with the endpoint list embedded as JSON (escape `<` as \u003c so `</script>` in a path
    /// cannot break out).
    ///
    /// The result depends only on its arguments: compute it once per configuration.
    public static func html(endpoints: [ConsoleEndpoint], version: String) -> String {
        let json = endpointsJSON(endpoints)
        let version = htmlEscaped(version)
        return ##"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="color-scheme" content="light dark">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \##
            script-src 'unsafe-inline'; connect-src ws: wss:; img-src data:; base-uri 'none'; form-action 'none'">
            <meta name="referrer" content="no-referrer">
            <title>wsgate console</title>
            <link rel="icon" href="data:,">
            <style>
            \##(style)
            </style>
            </head>
            <body data-state="closed">
            <header class="bar">
              <h1><span class="brand">wsgate</span> console</h1>
              <span class="version">\##(version)</span>
              <span id="state" role="status" data-state="closed">closed</span>
            </header>
            <main>
              <aside class="sidebar" aria-labelledby="endpoints-heading">
                <h2 id="endpoints-heading">Endpoints</h2>
                <ul id="endpoint-list"></ul>
                <p class="hint">Pick one to fill in the path, double-click to connect.</p>
              </aside>
              <section class="session" aria-label="Session">
                <form id="connection" class="connection" autocomplete="off">
                  <div class="field field-path">
                    <label for="path">Path or URL</label>
                    <input id="path" name="path" list="paths" spellcheck="false" placeholder="/echo"
                      aria-describedby="url">
                    <datalist id="paths"></datalist>
                  </div>
                  <div class="field field-query">
                    <label for="query">Query</label>
                    <input id="query" name="query" spellcheck="false" placeholder="name=value">
                  </div>
                  <div class="field field-protocols">
                    <label for="protocols">Subprotocols</label>
                    <input id="protocols" name="protocols" spellcheck="false" placeholder="none">
                  </div>
                  <div class="field field-token">
                    <label for="token">Token</label>
                    <input id="token" name="token" type="password" spellcheck="false" placeholder="JWT (auth:)"
                      title="Sent as the subprotocol base64url.bearer.<token>, never in the URL">
                  </div>
                  <button id="connect" type="submit" class="primary">Connect</button>
                  <output id="url" for="path query"></output>
                </form>
                <div class="logbar">
                  <h2 id="log-heading">Messages</h2>
                  <span id="counts" class="counts"></span>
                  <label class="follow"><input id="follow" type="checkbox" checked> Follow</label>
                  <button id="clear" type="button">Clear</button>
                </div>
                <div class="logbox" role="log" aria-labelledby="log-heading">
                  <ol id="log"></ol>
                </div>
                <form id="composer" class="composer" autocomplete="off">
                  <label for="message" class="visually-hidden">Message</label>
                  <textarea id="message" rows="1" spellcheck="false"
                    placeholder="Message: Enter sends, Shift+Enter starts a new line, ↑ recalls the last one"></textarea>
                  <button id="send" type="submit" class="primary" disabled>Send</button>
                </form>
              </section>
            </main>
            <script type="application/json" id="endpoints">\##(json)</script>
            <script>
            \##(script)
            </script>
            </body>
            </html>

            """##
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

    // MARK: - Style

    private static let style = ##"""
        :root {
          --bg: #f4f6f9; --panel: #ffffff; --sunken: #eef1f5; --text: #1b2130; --muted: #5b6577;
          --border: #d8dde5; --accent: #2457d6; --accent-text: #ffffff; --focus: #2457d6;
          --sent: #1f5fd1; --recv: #0b7a4b; --open: #0b7a4b; --close: #a35200; --error: #c0262d;
          --sent-bg: #f1f5fe; --close-bg: #fff6ea; --error-bg: #fdf0f0;
          --mono: ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
          --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
          color-scheme: light dark;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #0e1116; --panel: #161a21; --sunken: #1d222b; --text: #e5e9f0; --muted: #98a2b3;
            --border: #2b313c; --accent: #5b8def; --accent-text: #0b1020; --focus: #8fb3ff;
            --sent: #86b4ff; --recv: #5fd39a; --open: #5fd39a; --close: #f5b454; --error: #ff7b7b;
            --sent-bg: #172033; --close-bg: #2a2114; --error-bg: #2d1719;
          }
        }
        * { box-sizing: border-box; }
        html, body { height: 100%; }
        body {
          margin: 0; display: flex; flex-direction: column; background: var(--bg); color: var(--text);
          font: 14px/1.45 var(--sans);
        }
        h1, h2 { margin: 0; }
        button, input, textarea { font: inherit; color: inherit; }
        :focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
        .visually-hidden {
          position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
          white-space: nowrap;
        }

        .bar {
          display: flex; align-items: center; gap: .75rem; padding: .6rem 1.25rem;
          background: var(--panel); border-bottom: 1px solid var(--border);
        }
        .bar h1 { font-size: 1.05rem; font-weight: 600; }
        .brand { font-family: var(--mono); color: var(--accent); }
        .version { color: var(--muted); font: 12px var(--mono); }
        #state {
          margin-left: auto; display: inline-flex; align-items: center; gap: .45rem; padding: .2rem .7rem;
          border: 1px solid var(--border); border-radius: 999px; font-size: 12.5px; font-weight: 600;
          color: var(--muted); background: var(--sunken); text-transform: uppercase; letter-spacing: .04em;
        }
        #state::before {
          content: ""; width: .55rem; height: .55rem; border-radius: 50%; background: currentColor;
        }
        #state[data-state="open"] { color: var(--open); }
        #state[data-state="connecting"], #state[data-state="closing"] { color: var(--close); }
        @media (prefers-reduced-motion: no-preference) {
          #state[data-state="connecting"]::before { animation: pulse 1s ease-in-out infinite alternate; }
        }
        @keyframes pulse { from { opacity: 1; } to { opacity: .25; } }

        main {
          flex: 1; min-height: 0; display: grid; grid-template-columns: 16.5rem minmax(0, 1fr);
        }
        .sidebar {
          padding: 1rem .75rem; border-right: 1px solid var(--border); background: var(--panel); overflow: auto;
        }
        h2 {
          font-size: 11.5px; font-weight: 700; text-transform: uppercase; letter-spacing: .07em; color: var(--muted);
        }
        .sidebar h2 { padding: 0 .5rem .5rem; }
        #endpoint-list { list-style: none; margin: 0; padding: 0; display: grid; gap: .25rem; }
        #endpoint-list .empty { padding: .5rem; color: var(--muted); }
        .endpoint {
          width: 100%; display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: .15rem .5rem;
          padding: .5rem .6rem; text-align: left; background: none; border: 1px solid transparent;
          border-radius: 8px; cursor: pointer;
        }
        .endpoint:hover { background: var(--sunken); }
        .endpoint[aria-current="true"] { background: var(--sunken); border-color: var(--accent); }
        .endpoint-path { font-family: var(--mono); font-size: 13px; overflow-wrap: anywhere; }
        .endpoint-type {
          align-self: start; padding: 0 .45rem; border-radius: 999px; font-size: 11.5px;
          border: 1px solid var(--border); color: var(--muted);
        }
        .endpoint-type.type-echo { color: var(--recv); border-color: currentColor; }
        .endpoint-type.type-broadcast { color: var(--sent); border-color: currentColor; }
        .endpoint-type.type-process { color: var(--close); border-color: currentColor; }
        .endpoint-protocols {
          grid-column: 1 / -1; color: var(--muted); font: 12px var(--mono); overflow-wrap: anywhere;
        }
        .hint { margin: .75rem .5rem 0; color: var(--muted); font-size: 12.5px; }

        .session { min-width: 0; min-height: 0; display: flex; flex-direction: column; }
        .connection {
          display: grid; grid-template-columns: minmax(12rem, 2fr) minmax(8rem, 1fr) minmax(8rem, 1fr) minmax(8rem, 1fr) auto;
          gap: .35rem .75rem; align-items: end; padding: 1rem 1.25rem .75rem;
          background: var(--panel); border-bottom: 1px solid var(--border);
        }
        .field { display: flex; flex-direction: column; gap: .25rem; min-width: 0; }
        .field label { font-size: 12.5px; font-weight: 600; color: var(--muted); }
        input:not([type]), textarea {
          width: 100%; padding: .45rem .6rem; border: 1px solid var(--border); border-radius: 7px;
          background: var(--bg); font-family: var(--mono); font-size: 13px;
        }
        input:not([type]):focus, textarea:focus { border-color: var(--accent); }
        button {
          padding: .45rem .9rem; border: 1px solid var(--border); border-radius: 7px; background: var(--panel);
          cursor: pointer; font-weight: 600;
        }
        button:hover { background: var(--sunken); }
        button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
        button.primary:hover { filter: brightness(1.08); }
        button:disabled { opacity: .45; cursor: not-allowed; filter: none; }
        body:not([data-state="closed"]) #connect {
          background: var(--panel); color: var(--error); border-color: var(--error);
        }
        #connect { min-width: 7.5rem; }
        #url { grid-column: 1 / -1; color: var(--muted); font: 12px var(--mono); overflow-wrap: anywhere; }
        #url.warn { color: var(--close); }

        .logbar { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.25rem; }
        .counts { color: var(--muted); font-size: 12.5px; }
        .follow { margin-left: auto; display: inline-flex; gap: .35rem; align-items: center; color: var(--muted); }
        #clear { padding: .25rem .75rem; font-size: 13px; }
        .logbox {
          flex: 1; min-height: 8rem; overflow: auto; margin: 0 1.25rem; border: 1px solid var(--border);
          border-radius: 10px; background: var(--panel);
        }
        #log { list-style: none; margin: 0; padding: .35rem 0; font: 13px/1.5 var(--mono); }
        #log:empty::after {
          content: "No messages yet: pick an endpoint and connect."; display: block; padding: 2rem;
          text-align: center; color: var(--muted); font-family: var(--sans);
        }
        #log li {
          display: grid; grid-template-columns: 6.9rem 1.2rem minmax(0, 1fr) auto; gap: .6rem; align-items: baseline;
          position: relative; padding: .2rem .9rem; border-left: 3px solid transparent;
        }
        #log li + li { border-top: 1px solid var(--sunken); }
        #log time { color: var(--muted); font-size: 12px; }
        #log .mark { text-align: center; font-weight: 700; }
        #log .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: inherit; }
        #log .meta { color: var(--muted); font-size: 12px; white-space: nowrap; }
        #log .sent { background: var(--sent-bg); border-left-color: var(--sent); }
        #log .sent .mark { color: var(--sent); }
        #log .recv { border-left-color: var(--recv); }
        #log .recv .mark { color: var(--recv); }
        #log .open .mark, #log .open .body { color: var(--open); }
        #log .close { background: var(--close-bg); border-left-color: var(--close); }
        #log .close .mark, #log .close .code { color: var(--close); font-weight: 700; }
        #log .error { background: var(--error-bg); border-left-color: var(--error); }
        #log .error .mark, #log .error .body { color: var(--error); }
        #log .info .body, #log .info .mark { color: var(--muted); }
        #log .hex { color: var(--text); }
        #log .reason { font-style: italic; }

        .composer { display: flex; gap: .75rem; align-items: flex-end; padding: .75rem 1.25rem 1rem; }
        .composer textarea { resize: none; max-height: 10rem; line-height: 1.45; }
        .composer textarea::placeholder { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }

        @media (max-width: 760px) {
          main { grid-template-columns: 1fr; overflow: auto; }
          .sidebar { border-right: 0; border-bottom: 1px solid var(--border); }
          .connection { grid-template-columns: 1fr 1fr; }
          .field-path { grid-column: 1 / -1; }
          .logbox { min-height: 50vh; }
          #log li { grid-template-columns: auto 1rem minmax(0, 1fr); row-gap: 0; }
          #log .meta { grid-column: 3; white-space: normal; overflow-wrap: anywhere; }
        }
        """##

    // MARK: - Script

    private static let script = ##"""
        "use strict";
        (() => {
          // RFC 6455 section 7.4.1 and the IANA registry.
          const CLOSE_CODES = new Map([
            [1000, "Normal Closure"], [1001, "Going Away"], [1002, "Protocol Error"], [1003, "Unsupported Data"],
            [1005, "No Status Received"], [1006, "Abnormal Closure"], [1007, "Invalid Frame Payload Data"],
            [1008, "Policy Violation"], [1009, "Message Too Big"], [1010, "Mandatory Extension"],
            [1011, "Internal Error"], [1012, "Service Restart"], [1013, "Try Again Later"], [1014, "Bad Gateway"],
            [1015, "TLS Handshake"],
          ]);
          const HEX_BYTES_SHOWN = 4096;
          const LOG_LINES_KEPT = 5000;
          const PENDING_PAUSE_MS = 500;
          const MARKS = { sent: "→", recv: "←", open: "✓", close: "×", error: "!", info: "·" };
          const SPOKEN = { sent: "sent", recv: "received", open: "opened", close: "closed", error: "error" };

          const $ = (id) => document.getElementById(id);
          const ui = {
            state: $("state"), list: $("endpoint-list"), paths: $("paths"), connection: $("connection"),
            path: $("path"), query: $("query"), protocols: $("protocols"), token: $("token"), connect: $("connect"), url: $("url"),
            logbox: document.querySelector(".logbox"), log: $("log"), counts: $("counts"), follow: $("follow"),
            clear: $("clear"), composer: $("composer"), message: $("message"), send: $("send"),
          };

          let endpoints = [];
          try {
            endpoints = JSON.parse($("endpoints").textContent);
          } catch (error) {
            endpoints = [];
          }
          const encoder = new TextEncoder();
          const counts = { sent: 0, received: 0 };
          const sentHistory = [];
          let historyAt = 0;
          let socket = null;
          let pendingSends = [];
          let pendingTimer = 0;

          // ---- the log: every piece of text goes in through textContent ----

          const pad = (number, width = 2) => String(number).padStart(width, "0");
          const clock = (date) =>
            [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => pad(part)).join(":")
            + `.${pad(date.getMilliseconds(), 3)}`;
          const bytes = (count) => (count === 1 ? "1 byte" : `${count} bytes`);

          function span(className, text) {
            const element = document.createElement("span");
            element.className = className;
            element.textContent = text;
            return element;
          }

          function addLine(kind, body, meta) {
            const box = ui.logbox;
            const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
            const line = document.createElement("li");
            line.className = kind;
            const now = new Date();
            const time = document.createElement("time");
            time.dateTime = now.toISOString();
            time.textContent = clock(now);
            const mark = span("mark", MARKS[kind]);
            mark.setAttribute("aria-hidden", "true");
            line.append(time, mark);
            if (SPOKEN[kind]) line.append(span("visually-hidden", `${SPOKEN[kind]}: `));
            line.append(typeof body === "string" ? span("body", body) : body);
            if (meta) line.append(span("meta", meta));
            ui.log.append(line);
            while (ui.log.childElementCount > LOG_LINES_KEPT) ui.log.firstElementChild.remove();
            if (ui.follow.checked || atBottom) box.scrollTop = box.scrollHeight;
            return line;
          }

          function showCounts() {
            ui.counts.textContent = `${counts.sent} sent · ${counts.received} received`;
          }

          function hexDump(data) {
            const all = new Uint8Array(data);
            const shown = all.subarray(0, HEX_BYTES_SHOWN);
            const rows = [];
            for (let offset = 0; offset < shown.length; offset += 16) {
              const row = shown.subarray(offset, offset + 16);
              const hex = Array.from(row, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
              const text = Array.from(row, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : "."));
              const prefix = all.length > 16 ? `${offset.toString(16).padStart(6, "0")}  ` : "";
              rows.push(`${prefix}${hex.padEnd(47)}  ${text.join("")}`);
            }
            if (all.length > shown.length) rows.push(`… ${bytes(all.length - shown.length)} more not shown`);
            const pre = document.createElement("pre");
            pre.className = "body hex";
            pre.textContent = all.length === 0 ? "(empty)" : rows.join("\n");
            return pre;
          }

          // ---- state ----

          function setState(state) {
            ui.state.dataset.state = state;
            ui.state.textContent = state;
            document.body.dataset.state = state;
            ui.connect.textContent = state === "closed" ? "Connect" : "Disconnect";
            ui.send.disabled = state !== "open";
            document.title = state === "open" ? `● wsgate console` : "wsgate console";
          }

          // ---- where to connect ----

          const holesIn = (text) => text.match(/\{[^}]*\}/g) || [];
          const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

          function resolveURL() {
            let target = ui.path.value.trim();
            if (!target) throw new Error("Enter an endpoint path such as /echo, or a ws:// URL.");
            const holes = holesIn(target);
            if (holes.length) throw new Error(`Fill in ${holes.join(", ")} in the path first.`);
            let url;
            if (/^(wss?|https?):\/\//i.test(target)) {
              url = new URL(target);
              if (url.protocol === "http:") url.protocol = "ws:";
              if (url.protocol === "https:") url.protocol = "wss:";
            } else {
              if (!target.startsWith("/")) target = `/${target}`;
              const scheme = location.protocol === "https:" ? "wss:" : "ws:";
              url = new URL(`${scheme}//${location.host}${target}`);
            }
            const query = ui.query.value.trim().replace(/^\?/, "");
            if (query) url.search = url.search ? `${url.search}&${query}` : `?${query}`;
            return url.href;
          }

          function offeredProtocols() {
            const offered = ui.protocols.value.split(/[\s,]+/).filter(Boolean);
            // A token for an endpoint with auth: travels as a subprotocol (browsers cannot set headers,
            // and a URL ends up in logs), base64url-encoded as Kubernetes does.
            const token = ui.token.value.trim();
            if (token) {
              const bytes = new TextEncoder().encode(token);
              const carried = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
              offered.push(`base64url.bearer.${carried}`);
            }
            return offered;
          }

          function pathOf(target) {
            try {
              return /^[a-z]+:\/\//i.test(target) ? new URL(target).pathname : target.split("?")[0];
            } catch (error) {
              return target;
            }
          }

          function matches(template, path) {
            const pattern = template.split(/\{[^}]*\}/).map(escapeRegExp).join("[^/]+");
            return new RegExp(`^${pattern}$`).test(path);
          }

          function showTarget() {
            try {
              ui.url.textContent = `→ ${resolveURL()}`;
              ui.url.classList.remove("warn");
            } catch (error) {
              ui.url.textContent = error.message;
              ui.url.classList.add("warn");
            }
            const path = pathOf(ui.path.value.trim());
            for (const button of ui.list.querySelectorAll(".endpoint")) {
              button.setAttribute("aria-current", String(matches(button.dataset.path, path)));
            }
          }

          function choose(endpoint, focus) {
            ui.path.value = endpoint.path;
            ui.protocols.value = endpoint.subprotocols.join(", ");
            showTarget();
            const hole = /\{[^}]*\}/.exec(endpoint.path);
            if (hole && focus) {
              ui.path.focus();
              ui.path.setSelectionRange(hole.index, hole.index + hole[0].length);
            }
          }

          function renderEndpoints() {
            if (!endpoints.length) {
              const empty = document.createElement("li");
              empty.className = "empty";
              empty.textContent = "No endpoints configured.";
              ui.list.append(empty);
              return;
            }
            for (const endpoint of endpoints) {
              const item = document.createElement("li");
              const button = document.createElement("button");
              button.type = "button";
              button.className = "endpoint";
              button.dataset.path = endpoint.path;
              button.setAttribute("aria-current", "false");
              const type = span("endpoint-type", endpoint.type);
              type.classList.add(`type-${endpoint.type.replace(/[^a-z0-9-]/gi, "")}`);
              button.append(span("endpoint-path", endpoint.path), type);
              if (endpoint.subprotocols.length) {
                button.append(span("endpoint-protocols", endpoint.subprotocols.join(", ")));
              }
              button.addEventListener("click", () => choose(endpoint, true));
              button.addEventListener("dblclick", () => {
                if (!holesIn(endpoint.path).length) {
                  disconnect();
                  connect();
                }
              });
              item.append(button);
              ui.list.append(item);
              const option = document.createElement("option");
              option.value = endpoint.path;
              ui.paths.append(option);
            }
          }

          // ---- the connection ----

          function connect() {
            if (socket) return;
            let url;
            try {
              url = resolveURL();
            } catch (error) {
              addLine("error", error.message);
              return;
            }
            const protocols = offeredProtocols();
            let ws;
            try {
              ws = protocols.length ? new WebSocket(url, protocols) : new WebSocket(url);
            } catch (error) {
              addLine("error", `Cannot connect to ${url}: ${error.message}`);
              return;
            }
            ws.binaryType = "arraybuffer";
            socket = ws;
            setState("connecting");
            const shown = protocols.map((p) => (p.startsWith("base64url.bearer.") ? "a token" : p));
            addLine("info", `Connecting to ${url}`, shown.length ? `offering ${shown.join(", ")}` : "");

            ws.addEventListener("open", () => {
              if (socket !== ws) return;
              setState("open");
              const details = [];
              if (ws.protocol) details.push(`subprotocol ${ws.protocol}`);
              if (ws.extensions) details.push(ws.extensions);
              addLine("open", "Connected", details.join(" · "));
              schedulePending();
              if (document.activeElement === document.body || document.activeElement === ui.connect) {
                ui.message.focus();
              }
            });
            ws.addEventListener("message", (event) => {
              counts.received += 1;
              showCounts();
              if (typeof event.data === "string") {
                addLine("recv", event.data, bytes(encoder.encode(event.data).length));
              } else {
                addLine("recv", hexDump(event.data), `binary · ${bytes(event.data.byteLength)}`);
              }
              if (socket === ws) schedulePending(0);
            });
            ws.addEventListener("error", () => {
              addLine("error", "Connection error: the browser does not say which (its developer console may).");
            });
            ws.addEventListener("close", (event) => {
              logClose(event);
              if (socket === ws) {
                socket = null;
                setState("closed");
              }
            });
          }

          function logClose(event) {
            const body = span("body", "Closed ");
            body.append(span("code", String(event.code)));
            const name = CLOSE_CODES.get(event.code);
            if (name) body.append(` ${name}`);
            if (event.reason) body.append(" — ", span("reason", `“${event.reason}”`));
            if (event.code === 1006) body.append(" (no close frame: the connection dropped or the handshake failed)");
            const line = addLine("close", body, event.wasClean ? "clean" : "not clean");
            line.dataset.code = String(event.code);
            line.dataset.reason = event.reason;
          }

          function disconnect() {
            if (!socket) return;
            if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
              socket.close(1000);
              setState("closing");
            }
          }

          // Texts from ?send= go out one at a time, each after the server's next message or after
          // half a second of silence, so a scripted conversation reads in order.
          function schedulePending(delay = PENDING_PAUSE_MS) {
            clearTimeout(pendingTimer);
            if (!pendingSends.length) return;
            pendingTimer = setTimeout(() => {
              if (!socket || socket.readyState !== WebSocket.OPEN || !pendingSends.length) return;
              send(pendingSends.shift());
              schedulePending();
            }, delay);
          }

          function send(text) {
            if (!socket || socket.readyState !== WebSocket.OPEN) {
              addLine("error", "Not connected: connect first, then send.");
              return false;
            }
            socket.send(text);
            counts.sent += 1;
            showCounts();
            addLine("sent", text, bytes(encoder.encode(text).length));
            return true;
          }

          // ---- the composer ----

          function fitMessage() {
            ui.message.style.height = "auto";
            ui.message.style.height = `${ui.message.scrollHeight + 2}px`;
          }

          function recall(step) {
            if (!sentHistory.length) return false;
            historyAt = Math.max(0, Math.min(sentHistory.length, historyAt + step));
            ui.message.value = historyAt === sentHistory.length ? "" : sentHistory[historyAt];
            fitMessage();
            return true;
          }

          ui.composer.addEventListener("submit", (event) => {
            event.preventDefault();
            const text = ui.message.value;
            if (!send(text)) return;
            if (text && sentHistory[sentHistory.length - 1] !== text) sentHistory.push(text);
            historyAt = sentHistory.length;
            ui.message.value = "";
            fitMessage();
          });
          ui.message.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              ui.composer.requestSubmit();
            } else if ((event.key === "ArrowUp" || event.key === "ArrowDown") && !ui.message.value.includes("\n")) {
              if (recall(event.key === "ArrowUp" ? -1 : 1)) event.preventDefault();
            }
          });
          ui.message.addEventListener("input", fitMessage);

          ui.connection.addEventListener("submit", (event) => {
            event.preventDefault();
            if (socket) disconnect();
            else connect();
          });
          for (const field of [ui.path, ui.query]) field.addEventListener("input", showTarget);
          ui.clear.addEventListener("click", () => {
            ui.log.replaceChildren();
            counts.sent = 0;
            counts.received = 0;
            showCounts();
          });

          // ---- start: ?connect=/path&send=text&send=more (&query=…&protocols=…) drives the page ----

          renderEndpoints();
          showCounts();
          setState("closed");
          const params = new URLSearchParams(location.search);
          if (params.has("query")) ui.query.value = params.get("query");
          if (params.has("protocols")) ui.protocols.value = params.get("protocols");
          const target = params.get("connect");
          if (target !== null) {
            ui.path.value = target;
            const known = endpoints.find((endpoint) => matches(endpoint.path, pathOf(target)));
            if (known && !params.has("protocols")) ui.protocols.value = known.subprotocols.join(", ");
            pendingSends = params.getAll("send");
            showTarget();
            connect();
          } else if (endpoints.length) {
            choose(endpoints[0], false);
          } else {
            showTarget();
          }
        })();
        """##
}
