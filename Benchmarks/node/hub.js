// Node's `ws` (Debian's node-ws) as a broadcast hub, a peer in Benchmarks/run.py: every text
// message goes unchanged to every client, the sender included (as Benchmarks/broadcast/hub).
// `ws` has no public prepared frame, so each send frames the message; a client whose socket holds
// more than 4 MiB unsent is dropped (the gorilla hub drops at 256 queued messages).
//   node hub.js PORT
"use strict";
const { WebSocketServer } = require("/usr/share/nodejs/ws");

const port = Number(process.argv[2] || 9300);
const server = new WebSocketServer({ host: "127.0.0.1", port, maxPayload: 1 << 20, perMessageDeflate: false });
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    for (const client of server.clients) {
      if (client.bufferedAmount > 4 << 20) {
        client.terminate();
        continue;
      }
      client.send(data, { binary: isBinary });
    }
  });
  socket.on("error", () => socket.terminate());
});
