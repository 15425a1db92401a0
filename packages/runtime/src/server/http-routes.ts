// Plain HTTP GET routes beside the RPCs on the Connect port, for documents that
// standards say live at a URL rather than behind an RPC: a did:web DID document
// at /.well-known/did.json, status lists that wallets and verifiers fetch. A
// service registers them in createServices; the Connect server answers them
// before handing anything else to Connect. Paths are URLPattern pathnames
// ("/status-lists/:listId"), so no path parsing is written by hand.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Logger } from "../logger.ts";

export interface HttpRouteRequest {
  /** The matched path parameters, e.g. { listId: "..." } for "/status-lists/:listId". */
  readonly params: Readonly<Record<string, string>>;
  /** A request header by lower-case name; the first value when repeated. */
  header(name: string): string | undefined;
}

export interface HttpRouteResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type HttpRouteHandler = (request: HttpRouteRequest) => Promise<HttpRouteResponse>;

/** Where a service registers its GET routes (HEAD is answered from GET without the body). */
export interface HttpRouteRegistry {
  get(pathname: string, handler: HttpRouteHandler): void;
}

export interface HttpRoute {
  readonly pattern: URLPattern;
  readonly handler: HttpRouteHandler;
}

export function createHttpRouteRegistry(): HttpRouteRegistry & { readonly routes: readonly HttpRoute[] } {
  const routes: HttpRoute[] = [];
  return {
    routes,
    get(pathname, handler) {
      routes.push({ pattern: new URLPattern({ pathname }), handler });
    },
  };
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Answers the request when a route matches it and returns true; returns false
 * (touching nothing) otherwise, so the caller hands it on to Connect.
 */
export function serveHttpRoute(routes: readonly HttpRoute[], request: Request, response: Response, logger: Logger): boolean {
  if (routes.length === 0 || (request.method !== "GET" && request.method !== "HEAD")) return false;
  const pathname = (request.url ?? "/").split("?", 1)[0] as string;
  for (const route of routes) {
    const match = route.pattern.exec({ pathname });
    if (!match) continue;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.pathname.groups)) if (value !== undefined) params[name] = value;
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    route
      .handler({ params, header })
      .catch((error: unknown) => {
        logger.error({ err: error, path: pathname }, "HTTP route failed");
        return { status: 500, headers: { "content-type": "text/plain; charset=utf-8" }, body: "internal error" };
      })
      .then((answer) => {
        const body = answer.body === undefined ? undefined : typeof answer.body === "string" ? Buffer.from(answer.body) : answer.body;
        const headers: Record<string, string> = { ...answer.headers };
        if (body !== undefined) headers["content-length"] = String(body.byteLength);
        (response as http.ServerResponse).writeHead(answer.status, headers);
        (response as http.ServerResponse).end(request.method === "HEAD" ? undefined : body);
      })
      // A client gone mid-answer must not become an unhandled rejection.
      .catch((error: unknown) => logger.warn({ err: error, path: pathname }, "HTTP route answer not delivered"));
    return true;
  }
  return false;
}
