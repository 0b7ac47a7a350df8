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
