// Serves the chat page on loopback: index.html and the bundle dist/chat.js, nothing else.
//   node serve.mjs [PORT]      (default 8000; 0 picks a free port)
// It prints `serving http://127.0.0.1:PORT/`. The browser test imports `serve` from here.

import http from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/dist/chat.js": [path.join("dist", "chat.js"), "text/javascript; charset=utf-8"],
};

/** Starts the server on 127.0.0.1:`port`; resolves with the http.Server once it listens. */
export function serve(port = 8000) {
  const server = http.createServer(async (req, res) => {
    const file = FILES[new URL(req.url, "http://localhost").pathname];
    if (req.method !== "GET" || !file) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const body = await readFile(path.join(HERE, file[0]));
      res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" }).end(body);
    } catch {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${file[0]} missing: run npm run build\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] ?? 8000));
  console.log(`serving http://127.0.0.1:${server.address().port}/`);
}
