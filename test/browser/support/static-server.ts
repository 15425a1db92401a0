// A tiny static HTTP server for test pages. It gives a page its own origin (its
// own port), distinct from the server under test, so the browser applies CORS
// for real. It serves only the files present in its directory when it starts.
import { readdir, readFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

export interface StaticServer {
  /** e.g. "http://127.0.0.1:41234", the value browsers send in the Origin header. */
  origin: string;
  close(): Promise<void>;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

export async function startStaticServer(directory: string): Promise<StaticServer> {
  // Reading every file up front means a request path is only ever a key in this
  // map, never a file-system path, so nothing outside the directory can be served.
  const files = new Map<string, { body: Buffer; contentType: string }>();
  for (const name of await readdir(directory)) {
    const contentType = contentTypes[path.extname(name)] ?? "application/octet-stream";
    files.set(`/${name}`, { body: await readFile(path.join(directory, name)), contentType });
  }
  const index = files.get("/index.html");
  if (index !== undefined) files.set("/", index);

  const server = http.createServer((request, response) => {
    const file = request.method === "GET" ? files.get(new URL(request.url ?? "/", "http://page").pathname) : undefined;
    if (file === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    response.writeHead(200, { "content-type": file.contentType, "cache-control": "no-store" }).end(file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
