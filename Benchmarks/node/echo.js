// Node's `ws` (Debian's node-ws) as an echo server, a peer in Benchmarks/run.py.
//   node echo.js PORT [--deflate]
// Every message goes back as it came (text as text, binary as binary). With --deflate,
// permessage-deflate is offered as the other peers offer it: level 6, messages from 32 B,
// no context takeover either way (what the benchmark clients ask for).
"use strict";
const { WebSocketServer } = require("/usr/share/nodejs/ws");

const port = Number(process.argv[2] || 9200);
const deflate = process.argv.includes("--deflate");
const server = new WebSocketServer({
  host: "127.0.0.1",
  port,
  maxPayload: 16 << 20,
  perMessageDeflate: deflate
    ? { zlibDeflateOptions: { level: 6 }, threshold: 32, serverNoContextTakeover: true, clientNoContextTakeover: true }
    : false,
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => socket.terminate());
});
