// The documents this issuer publishes over plain HTTP on its Connect port:
//   /.well-known/did.json                         the issuer's did:web DID document
//   /status-lists/bitstring/:listId/:purpose      a BitstringStatusListCredential (VC-JWT)
//   /status-lists/token/:listId                   a Status List Token (statuslist+jwt)
//   /credentials/types/:slug                      SD-JWT VC type metadata (the vct URL)
//   /credentials/schemas/:slug.json               the JSON Schema of a type's claims
// All are public and meant for wallets and verifiers on other origins, hence
// `access-control-allow-origin: *`; all carry a strong ETag and Cache-Control,
// and answer 304 to a matching If-None-Match.
import { createHash } from "node:crypto";
import type { HttpRouteRegistry, HttpRouteRequest, HttpRouteResponse } from "@trustmesh/runtime";
import { credentialTypeOfSlug, jsonSchemaOf, typeMetadataOf } from "./credential-types.ts";
import { parseStatusListUrl, statusListRoutes } from "./status-list-urls.ts";
import type { StatusLists } from "./status-lists.ts";

export interface HttpDocumentsOptions {
  issuerUrl: string;
  statusLists: StatusLists;
  /** The issuer's DID document, current (it changes when the key rotates). */
  didDocument(): Promise<Record<string, unknown>>;
  /** How long caches may keep the DID document and static documents. */
  cacheSeconds: number;
}

const notFoundResponse: HttpRouteResponse = { status: 404, headers: { "content-type": "text/plain; charset=utf-8" }, body: "not found" };

/** The response for a body, or 304 when the client's cached copy is this one. */
export function conditionalResponse(
  request: HttpRouteRequest,
  document: { body: string; contentType: string; etag?: string; maxAgeSeconds: number },
): HttpRouteResponse {
  const etag = document.etag ?? `"${createHash("sha256").update(document.body).digest("base64url")}"`;
  const headers = {
    etag,
    "cache-control": `public, max-age=${document.maxAgeSeconds}`,
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "etag",
  };
  const ifNoneMatch = request.header("if-none-match");
  const matches = ifNoneMatch?.split(",").some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, "");
    return tag === etag || tag === "*";
  });
  if (matches) return { status: 304, headers };
  return { status: 200, headers: { ...headers, "content-type": document.contentType }, body: document.body };
}

export function registerHttpDocuments(routes: HttpRouteRegistry, options: HttpDocumentsOptions): void {
  routes.get("/.well-known/did.json", async (request) =>
    conditionalResponse(request, {
      body: JSON.stringify(await options.didDocument()),
      contentType: "application/did+json",
      maxAgeSeconds: options.cacheSeconds,
    }),
  );

  const serveList = async (request: HttpRouteRequest, path: string) => {
    const target = parseStatusListUrl(options.issuerUrl, `${options.issuerUrl}${path}`);
    const published = target ? await options.statusLists.publish(target) : undefined;
    return published ? conditionalResponse(request, published) : notFoundResponse;
  };
  routes.get(statusListRoutes.bitstring, (request) =>
    serveList(request, `/status-lists/bitstring/${request.params.listId}/${request.params.purpose}`),
  );
  routes.get(statusListRoutes.token, (request) => serveList(request, `/status-lists/token/${request.params.listId}`));

  routes.get("/credentials/types/:slug", async (request) => {
    const definition = credentialTypeOfSlug(request.params.slug ?? "");
    if (!definition) return notFoundResponse;
    return conditionalResponse(request, {
      body: JSON.stringify(typeMetadataOf(options.issuerUrl, definition)),
      contentType: "application/json",
      maxAgeSeconds: options.cacheSeconds,
    });
  });
  routes.get("/credentials/schemas/:file", async (request) => {
    const slug = /^([a-z-]+)\.json$/.exec(request.params.file ?? "")?.[1];
    const definition = slug === undefined ? undefined : credentialTypeOfSlug(slug);
    if (!definition) return notFoundResponse;
    return conditionalResponse(request, {
      body: JSON.stringify(jsonSchemaOf(options.issuerUrl, definition)),
      contentType: "application/schema+json",
      maxAgeSeconds: options.cacheSeconds,
    });
  });
}
