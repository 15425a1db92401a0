// Publishing status lists and reading a credential's status from them.
//
// A list's content is derived from the credentials that point into it (store:
// statusListSnapshot), tagged with a version that every status change moves.
// Published lists are signed by the issuer: a Bitstring Status List as a
// BitstringStatusListCredential secured as VC-JWT, a Token Status List as a
// Status List Token (typ statuslist+jwt). Signed forms are kept in memory per
// version and re-signed when half their validity has passed, and served with a
// strong ETag (the body's SHA-256) and Cache-Control, so caches and verifiers
// revalidate cheaply.
import { createHash } from "node:crypto";
import { SignJWT } from "jose";
import { verificationMethodId } from "./did-web.ts";
import type { IssuerKeys } from "./issuer-keys.ts";
import {
  type BitstringPurpose,
  bitAt,
  bitstringOf,
  encodeBitstring,
  type StatusEntry,
  tokenStatus,
  tokenStatusBits,
  tokenStatusListOf,
} from "./status-list-encoding.ts";
import { bitstringListUrl, type ParsedStatusListUrl, tokenListUrl } from "./status-list-urls.ts";
import type { CredentialStore } from "./store.ts";
import { vcContextV2, vcJwtMediaType } from "./vc-jwt.ts";

export interface PublishedStatusList {
  body: string;
  contentType: string;
  /** A strong ETag, quoted. */
  etag: string;
  /** How long caches may keep it: the configured time, never past the list's own expiry. */
  maxAgeSeconds: number;
}

/** A credential's standing as a status list says it. */
export type ListedStatus = "valid" | "revoked" | "suspended";

export interface StatusLists {
  /** The signed list a URL names; undefined when there is no such list. */
  publish(target: ParsedStatusListUrl): Promise<PublishedStatusList | undefined>;
  /** What the list says about one index; undefined when there is no such list or index. */
  statusAt(target: ParsedStatusListUrl, index: number): Promise<ListedStatus | undefined>;
}

export interface StatusListsOptions {
  store: CredentialStore;
  issuerKeys: IssuerKeys;
  issuerDid: string;
  issuerUrl: string;
  cacheSeconds: number;
  validitySeconds: number;
  now?: () => Date;
}

interface DecodedList {
  version: bigint;
  size: number;
  kind: "BITSTRING" | "TOKEN";
  entries: StatusEntry[];
  bitstrings: Record<BitstringPurpose, Uint8Array>;
  /** The Token Status List's value per index that is not valid. */
  tokenValues: Map<number, number>;
}

interface SignedList extends PublishedStatusList {
  version: bigint;
  signedAtMs: number;
  expiresAtMs: number;
}

/** Lists kept decoded and signed in memory; beyond this the oldest is dropped (and rebuilt on demand). */
const cachedListsMax = 256;

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > cachedListsMax) cache.delete(cache.keys().next().value as string);
  return value;
}

const seconds = (milliseconds: number) => Math.floor(milliseconds / 1000);

export function createStatusLists(options: StatusListsOptions): StatusLists {
  const now = options.now ?? (() => new Date());
  const decoded = new Map<string, DecodedList>();
  const signed = new Map<string, SignedList>();

  /** The list at its current version, decoded; undefined when it does not exist or is of another kind. */
  async function current(target: ParsedStatusListUrl): Promise<DecodedList | undefined> {
    const version = await options.store.statusListVersion(target.listId);
    if (version === undefined) return undefined;
    let list = decoded.get(target.listId);
    if (!list || list.version !== version) {
      const snapshot = await options.store.statusListSnapshot(target.listId);
      if (!snapshot) return undefined;
      list = remember(decoded, target.listId, {
        version: snapshot.version,
        size: snapshot.size,
        kind: snapshot.kind,
        entries: snapshot.entries,
        bitstrings: {
          revocation: bitstringOf(snapshot.size, snapshot.entries, "revocation"),
          suspension: bitstringOf(snapshot.size, snapshot.entries, "suspension"),
        },
        tokenValues: new Map(
          snapshot.entries.map((entry) => [entry.index, entry.state === "REVOKED" ? tokenStatus.invalid : tokenStatus.suspended]),
        ),
      });
    }
    const expectedKind = target.kind === "bitstring" ? "BITSTRING" : "TOKEN";
    return list.kind === expectedKind ? list : undefined;
  }

  async function sign(target: ParsedStatusListUrl, list: DecodedList): Promise<SignedList> {
    const key = await options.issuerKeys.signingKey();
    const signedAtMs = now().getTime();
    const expiresAtMs = signedAtMs + options.validitySeconds * 1000;
    const header = { alg: "EdDSA", kid: verificationMethodId(options.issuerDid, key.kid) };
    let body: string;
    let contentType: string;
    if (target.kind === "bitstring") {
      const url = bitstringListUrl(options.issuerUrl, target.listId, target.purpose);
      body = await new SignJWT({
        "@context": [vcContextV2],
        id: url,
        type: ["VerifiableCredential", "BitstringStatusListCredential"],
        issuer: options.issuerDid,
        validFrom: new Date(signedAtMs).toISOString(),
        validUntil: new Date(expiresAtMs).toISOString(),
        credentialSubject: {
          id: `${url}#list`,
          type: "BitstringStatusList",
          statusPurpose: target.purpose,
          encodedList: encodeBitstring(list.bitstrings[target.purpose]),
          // Bitstring Status List's ttl is in milliseconds.
          ttl: options.cacheSeconds * 1000,
        },
        iss: options.issuerDid,
        iat: seconds(signedAtMs),
        nbf: seconds(signedAtMs),
        exp: seconds(expiresAtMs),
      })
        .setProtectedHeader({ ...header, typ: vcJwtMediaType, cty: "vc" })
        .sign(key.privateKey);
      contentType = "application/vc+jwt";
    } else {
      const url = tokenListUrl(options.issuerUrl, target.listId);
      body = await new SignJWT({
        sub: url,
        iss: options.issuerDid,
        iat: seconds(signedAtMs),
        exp: seconds(expiresAtMs),
        ttl: options.cacheSeconds,
        status_list: { bits: tokenStatusBits, lst: tokenStatusListOf(list.size, list.entries).compressStatusList() },
      })
        .setProtectedHeader({ ...header, typ: "statuslist+jwt" })
        .sign(key.privateKey);
      contentType = "application/statuslist+jwt";
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url")}"`;
    return { body, contentType, etag, maxAgeSeconds: options.cacheSeconds, version: list.version, signedAtMs, expiresAtMs };
  }

  return {
    async publish(target) {
      const list = await current(target);
      if (!list) return undefined;
      const cacheKey = target.kind === "bitstring" ? `${target.listId}/${target.purpose}` : target.listId;
      const nowMs = now().getTime();
      let entry = signed.get(cacheKey);
      const halfLifeMs = (options.validitySeconds * 1000) / 2;
      if (!entry || entry.version !== list.version || nowMs - entry.signedAtMs > halfLifeMs) {
        entry = remember(signed, cacheKey, await sign(target, list));
      }
      return { ...entry, maxAgeSeconds: Math.max(0, Math.min(options.cacheSeconds, seconds(entry.expiresAtMs - nowMs))) };
    },

    async statusAt(target, index) {
      const list = await current(target);
      if (!list || !Number.isInteger(index) || index < 0 || index >= list.size) return undefined;
      if (target.kind === "bitstring") {
        // One purpose per list: the caller asks the revocation list and the suspension list in turn.
        return bitAt(list.bitstrings[target.purpose], index) ? (target.purpose === "revocation" ? "revoked" : "suspended") : "valid";
      }
      const value = list.tokenValues.get(index) ?? tokenStatus.valid;
      return value === tokenStatus.invalid ? "revoked" : value === tokenStatus.suspended ? "suspended" : "valid";
    },
  };
}
