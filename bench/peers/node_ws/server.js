// A Node.js `ws` broadcast server, written as the ws README suggests: readers connect to
// /ws; POST /publish {"body": ...} sends an entry-shaped event to every open client.
// Readers offering permessage-deflate get it (ws's defaults: compressed per client).
// Run: node server.js PORT
const http = require("http");
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.argv[2] || 8200);
let offset = 0;
const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.end("ok");
    return;
  }
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const post = JSON.parse(body || "{}");
    offset += 1;
    const entry = {
      id: offset, blog: "bench", headline: post.headline ?? null, body: post.body,
      html: `<p>${post.body}</p>`, key_event: false, pinned: false, author: "Bench",
      published_at: new Date().toISOString(), updated_at: null, version: 1,
    };
    const message = JSON.stringify({ type: "entry.created", offset, entry });
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(message);
    }
    res.writeHead(201, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ offset }));
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: true });
server.listen(port, "127.0.0.1");
