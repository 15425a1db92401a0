// Verifying credentials (VC-JWT and SD-JWT VC) and SD-JWT VC presentations,
// step by step, each step's outcome reported: format, trusted issuer, signature
// against the key the issuer's DID document names, disclosures, key binding,
// validity period, status list, schema, required claims.
//
// Only this issuer's did:web is trusted, and its keys and lists are read from
// its own database: nothing is ever fetched from a URL found in the input, so a
// credential cannot make the service call out (no server-side request forgery).
import { createHash } from "node:crypto";
import { digest } from "@sd-jwt/crypto-nodejs";
import { decodeJwt, decodeSdJwt, unpack } from "@sd-jwt/decode";
import {
  CheckOutcome,
  CredentialFormat,
  CredentialStatus,
  CredentialType,
  VerificationCheckKind,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { compactVerify, importJWK, type JWK } from "jose";
import { type CredentialTypeDefinition, credentialTypeOfUri, schemaProblem } from "./credential-types.ts";
import type { IssuerKeys } from "./issuer-keys.ts";
import { sdHashAlgorithm, sdJwtVcMediaType } from "./sd-jwt-vc.ts";
import { type ParsedStatusListUrl, parseStatusListUrl } from "./status-list-urls.ts";
import type { ListedStatus, StatusLists } from "./status-lists.ts";
import { vcContextV2, vcJwtMediaType } from "./vc-jwt.ts";

export interface VerificationCheckResult {
  kind: VerificationCheckKind;
  outcome: CheckOutcome;
  failure: VerificationFailure;
  detail: string;
}

export interface VerifiedCredentialFacts {
  type: CredentialType;
  typeUri: string;
  format: CredentialFormat;
  issuerDid: string;
  holderDid: string;
  validFrom?: Date;
  validUntil?: Date;
  status: CredentialStatus;
  /** Only when every check passed. */
  claims?: Record<string, unknown>;
}

export interface VerificationOutcome {
  verified: boolean;
  failure: VerificationFailure;
  checks: VerificationCheckResult[];
  credential: VerifiedCredentialFacts;
  keyBindingIssuedAt?: Date;
}

export interface PresentationExpectations {
  nonce: string;
  audience: string;
  requiredClaims: readonly string[];
  maxKeyBindingAgeMs: number;
}

export interface Verifier {
  verifyCredential(encoded: string, expectedFormat: CredentialFormat): Promise<VerificationOutcome>;
  verifyPresentation(presentation: string, expectations: PresentationExpectations): Promise<VerificationOutcome>;
}

export interface VerifierOptions {
  issuerDid: string;
  issuerUrl: string;
  issuerKeys: IssuerKeys;
  statusLists: StatusLists;
  now?: () => Date;
}

/** Clock skew allowed between this service and whoever signed (issuer, holder). */
const clockSkewSeconds = 60;

/** SD-JWT VC claims that are about the credential, not its subject. */
const registeredSdJwtClaims = new Set(["iss", "iat", "nbf", "exp", "vct", "vct#integrity", "sub", "cnf", "status", "_sd_alg", "_sd"]);

const Kind = VerificationCheckKind;
const Failure = VerificationFailure;

/** Thrown inside a step to fail it with a reason. */
class StepFailure extends Error {
  readonly failure: VerificationFailure;
  constructor(failure: VerificationFailure, detail: string) {
    super(detail);
    this.failure = failure;
  }
}

const fail = (failure: VerificationFailure, detail: string): never => {
  throw new StepFailure(failure, detail);
};

/** Records checks in order; after a fatal failure the remaining steps are skipped. */
class CheckRecorder {
  readonly checks: VerificationCheckResult[] = [];
  failure: VerificationFailure = Failure.UNSPECIFIED;
  private stoppedBy: string | undefined;

  /** Runs one step; returns its value, or undefined when it failed or was skipped. */
  async run<T>(kind: VerificationCheckKind, fatal: boolean, step: () => Promise<T> | T, passedDetail = ""): Promise<T | undefined> {
    if (this.stoppedBy !== undefined) {
      this.skip(kind, `not checked: ${this.stoppedBy} failed`);
      return undefined;
    }
    try {
      const value = await step();
      this.checks.push({ kind, outcome: CheckOutcome.PASSED, failure: Failure.UNSPECIFIED, detail: passedDetail });
      return value;
    } catch (error) {
      if (!(error instanceof StepFailure)) throw error;
      this.checks.push({ kind, outcome: CheckOutcome.FAILED, failure: error.failure, detail: error.message });
      if (this.failure === Failure.UNSPECIFIED) this.failure = error.failure;
      if (fatal) this.stoppedBy = VerificationCheckKind[kind].toLowerCase();
      return undefined;
    }
  }

  skip(kind: VerificationCheckKind, detail: string): void {
    this.checks.push({ kind, outcome: CheckOutcome.SKIPPED, failure: Failure.UNSPECIFIED, detail });
  }

  get verified(): boolean {
    return this.failure === Failure.UNSPECIFIED && this.stoppedBy === undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function dateOfSeconds(value: unknown): Date | undefined {
  return typeof value === "number" && Number.isFinite(value) ? new Date(value * 1000) : undefined;
}

function dateOfText(value: unknown, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = typeof value === "string" ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) fail(Failure.MALFORMED, `${name} is not a date-time`);
  return date;
}

/** The pieces of an input, once its format step passed. */
interface ParsedVcJwt {
  format: CredentialFormat.VC_JWT;
  jwt: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

interface ParsedSdJwt {
  format: CredentialFormat.SD_JWT_VC;
  jwt: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The issuer JWT and disclosures, with the trailing "~": what a key binding's sd_hash covers. */
  withoutKeyBinding: string;
  keyBindingJwt: string | undefined;
}

type Parsed = ParsedVcJwt | ParsedSdJwt;

function parse(encoded: string, expectedFormat: CredentialFormat): Parsed {
  const isSdJwt = encoded.includes("~");
  const format = isSdJwt ? CredentialFormat.SD_JWT_VC : CredentialFormat.VC_JWT;
  if (expectedFormat !== CredentialFormat.UNSPECIFIED && expectedFormat !== format) {
    fail(Failure.MALFORMED, `expected ${CredentialFormat[expectedFormat]} but got ${CredentialFormat[format]}`);
  }
  const jwt = isSdJwt ? (encoded.slice(0, encoded.indexOf("~")) as string) : encoded;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    ({ header, payload } = decodeJwt(jwt));
  } catch {
    return fail(Failure.MALFORMED, "not a compact JWS (header.payload.signature, base64url JSON)");
  }
  if (!isRecord(header) || !isRecord(payload) || jwt.split(".").length !== 3) fail(Failure.MALFORMED, "not a compact JWS");
  if (header.alg !== "EdDSA") fail(Failure.UNSUPPORTED, `algorithm ${String(header.alg)} is not supported (EdDSA only)`);
  if (!isSdJwt) {
    if (header.typ !== vcJwtMediaType) fail(Failure.MALFORMED, `typ must be ${vcJwtMediaType}`);
    const context = payload["@context"];
    if (!Array.isArray(context) || context[0] !== vcContextV2) fail(Failure.MALFORMED, `@context must start with ${vcContextV2}`);
    const types = payload.type;
    if (!Array.isArray(types) || !types.includes("VerifiableCredential")) fail(Failure.MALFORMED, "type must include VerifiableCredential");
    if (!isRecord(payload.credentialSubject)) fail(Failure.MALFORMED, "credentialSubject must be one object");
    if (typeof payload.issuer !== "string" && !(isRecord(payload.issuer) && typeof payload.issuer.id === "string")) {
      fail(Failure.MALFORMED, "issuer must be a URL or an object with an id");
    }
    return { format: CredentialFormat.VC_JWT, jwt, header, payload };
  }
  // SD-JWT typ: dc+sd-jwt today; vc+sd-jwt from earlier drafts is still read.
  if (header.typ !== sdJwtVcMediaType && header.typ !== "vc+sd-jwt") fail(Failure.MALFORMED, `typ must be ${sdJwtVcMediaType}`);
  if (typeof payload.iss !== "string" || typeof payload.vct !== "string") fail(Failure.MALFORMED, "iss and vct are required");
  if (payload._sd_alg !== undefined && payload._sd_alg !== sdHashAlgorithm) {
    fail(Failure.UNSUPPORTED, `_sd_alg ${String(payload._sd_alg)} is not supported (sha-256 only)`);
  }
  const lastSeparator = encoded.lastIndexOf("~");
  const keyBindingJwt = encoded.slice(lastSeparator + 1);
  return {
    format: CredentialFormat.SD_JWT_VC,
    jwt,
    header,
    payload,
    withoutKeyBinding: encoded.slice(0, lastSeparator + 1),
    keyBindingJwt: keyBindingJwt === "" ? undefined : keyBindingJwt,
  };
}

function issuerOf(parsed: Parsed): string {
  const issuer = parsed.format === CredentialFormat.VC_JWT ? parsed.payload.issuer : parsed.payload.iss;
  return typeof issuer === "string" ? issuer : String((issuer as Record<string, unknown>).id);
}

function holderOf(parsed: Parsed): string {
  if (parsed.format === CredentialFormat.SD_JWT_VC) return typeof parsed.payload.sub === "string" ? parsed.payload.sub : "";
  const subject = parsed.payload.credentialSubject as Record<string, unknown>;
  return typeof subject.id === "string" ? subject.id : "";
}

function typeUriOf(parsed: Parsed): string {
  if (parsed.format === CredentialFormat.SD_JWT_VC) return String(parsed.payload.vct);
  const types = (parsed.payload.type as unknown[]).filter((type): type is string => typeof type === "string");
  return types.filter((type) => type !== "VerifiableCredential").at(-1) ?? "VerifiableCredential";
}

/** The validity window: VCDM validFrom/validUntil, else (and for SD-JWT) nbf/exp. */
function validityOf(parsed: Parsed): { from?: Date; until?: Date } {
  if (parsed.format === CredentialFormat.VC_JWT) {
    return {
      from: dateOfText(parsed.payload.validFrom, "validFrom") ?? dateOfSeconds(parsed.payload.nbf),
      until: dateOfText(parsed.payload.validUntil, "validUntil") ?? dateOfSeconds(parsed.payload.exp),
    };
  }
  return { from: dateOfSeconds(parsed.payload.nbf) ?? dateOfSeconds(parsed.payload.iat), until: dateOfSeconds(parsed.payload.exp) };
}

/** The status-list entries a credential names, as list references and indexes. */
function statusReferencesOf(parsed: Parsed, issuerUrl: string): { target: ParsedStatusListUrl; index: number; uri: string }[] {
  const references: { target: ParsedStatusListUrl | undefined; index: unknown; uri: unknown }[] = [];
  if (parsed.format === CredentialFormat.VC_JWT) {
    const status = parsed.payload.credentialStatus;
    const entries = status === undefined ? [] : Array.isArray(status) ? status : [status];
    for (const entry of entries) {
      if (!isRecord(entry) || entry.type !== "BitstringStatusListEntry")
        fail(Failure.STATUS_UNAVAILABLE, "unsupported credentialStatus type");
      const uri = (entry as Record<string, unknown>).statusListCredential;
      const target = typeof uri === "string" ? parseStatusListUrl(issuerUrl, uri) : undefined;
      if (target?.kind === "bitstring" && target.purpose !== (entry as Record<string, unknown>).statusPurpose) {
        fail(Failure.STATUS_UNAVAILABLE, "statusPurpose does not match the list");
      }
      references.push({ target, index: Number((entry as Record<string, unknown>).statusListIndex), uri });
    }
  } else if (parsed.payload.status !== undefined) {
    const reference = isRecord(parsed.payload.status) ? parsed.payload.status.status_list : undefined;
    if (!isRecord(reference)) fail(Failure.STATUS_UNAVAILABLE, "status.status_list is missing");
    const { uri, idx } = reference as Record<string, unknown>;
    references.push({ target: typeof uri === "string" ? parseStatusListUrl(issuerUrl, uri) : undefined, index: idx, uri });
  }
  return references.map(({ target, index, uri }) => {
    if (!target) fail(Failure.STATUS_UNAVAILABLE, `status list ${String(uri)} is not one this issuer publishes`);
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0)
      fail(Failure.STATUS_UNAVAILABLE, "status index is not an integer");
    return { target: target as ParsedStatusListUrl, index: index as number, uri: String(uri) };
  });
}

export function createVerifier(options: VerifierOptions): Verifier {
  const now = options.now ?? (() => new Date());
  const hasher = digest;

  async function verify(encoded: string, expectedFormat: CredentialFormat, expectations: PresentationExpectations | undefined) {
    const recorder = new CheckRecorder();
    const facts: VerifiedCredentialFacts = {
      type: CredentialType.UNSPECIFIED,
      typeUri: "",
      format: CredentialFormat.UNSPECIFIED,
      issuerDid: "",
      holderDid: "",
      status: CredentialStatus.UNSPECIFIED,
    };
    let keyBindingIssuedAt: Date | undefined;

    const parsed = await recorder.run(Kind.FORMAT, true, () => {
      const result = parse(encoded, expectedFormat);
      if (expectations && result.format !== CredentialFormat.SD_JWT_VC) fail(Failure.UNSUPPORTED, "presentations must be SD-JWT VC");
      return result;
    });
    if (parsed) {
      facts.format = parsed.format;
      facts.issuerDid = issuerOf(parsed);
      facts.holderDid = holderOf(parsed);
      facts.typeUri = typeUriOf(parsed);
    }

    await recorder.run(Kind.ISSUER, true, () => {
      if (facts.issuerDid !== options.issuerDid) {
        fail(
          Failure.UNTRUSTED_ISSUER,
          `${facts.issuerDid} is not a trusted issuer (trusted: ${options.issuerDid}); other DIDs are never resolved`,
        );
      }
      if (parsed?.format === CredentialFormat.VC_JWT && parsed.payload.iss !== undefined && parsed.payload.iss !== facts.issuerDid) {
        fail(Failure.UNTRUSTED_ISSUER, "iss does not match issuer");
      }
    });

    await recorder.run(Kind.SIGNATURE, true, async () => {
      const { header, jwt } = parsed as Parsed;
      const prefix = `${options.issuerDid}#`;
      const kid = typeof header.kid === "string" && header.kid.startsWith(prefix) ? header.kid.slice(prefix.length) : undefined;
      const key = kid === undefined ? undefined : await options.issuerKeys.publicKey(kid);
      if (!key) fail(Failure.UNKNOWN_KEY, `kid ${String(header.kid)} is not a verification method of ${options.issuerDid}`);
      try {
        await compactVerify(jwt, key as Parameters<typeof compactVerify>[1], { algorithms: ["EdDSA"] });
      } catch {
        fail(Failure.INVALID_SIGNATURE, "the signature does not verify with the issuer's key");
      }
    });

    // The subject claims, as far as they are trusted: for SD-JWT, the disclosed ones.
    let claims: Record<string, unknown> | undefined;
    if (parsed?.format === CredentialFormat.SD_JWT_VC || parsed === undefined) {
      claims = await recorder.run(Kind.DISCLOSURES, true, async () => disclosedClaims(parsed as ParsedSdJwt));
    } else {
      recorder.skip(Kind.DISCLOSURES, "a VC-JWT has no disclosures");
      const { id: _subjectId, ...subjectClaims } = parsed.payload.credentialSubject as Record<string, unknown>;
      claims = subjectClaims;
    }

    if (expectations) {
      keyBindingIssuedAt = await recorder.run(Kind.KEY_BINDING, false, () => checkKeyBinding(parsed as ParsedSdJwt, expectations));
    }

    await recorder.run(Kind.VALIDITY_PERIOD, false, () => {
      const { from, until } = validityOf(parsed as Parsed);
      facts.validFrom = from;
      facts.validUntil = until;
      const nowMs = now().getTime();
      if (from && from.getTime() - clockSkewSeconds * 1000 > nowMs) fail(Failure.NOT_YET_VALID, `valid from ${from.toISOString()}`);
      if (until && until.getTime() + clockSkewSeconds * 1000 < nowMs) fail(Failure.EXPIRED, `expired at ${until.toISOString()}`);
    });

    await recorder.run(Kind.STATUS, false, async () => {
      let listed: ListedStatus = "valid";
      for (const { target, index, uri } of statusReferencesOf(parsed as Parsed, options.issuerUrl)) {
        const status = await options.statusLists.statusAt(target, index);
        if (status === undefined) fail(Failure.STATUS_UNAVAILABLE, `status list ${uri} has no entry ${index}`);
        // Revocation outranks suspension when both lists say so.
        if (status === "revoked" || (status === "suspended" && listed === "valid")) listed = status;
      }
      facts.status =
        listed === "revoked" ? CredentialStatus.REVOKED : listed === "suspended" ? CredentialStatus.SUSPENDED : CredentialStatus.ACTIVE;
      if (listed === "revoked") fail(Failure.REVOKED, "the issuer revoked this credential");
      if (listed === "suspended") fail(Failure.SUSPENDED, "the issuer suspended this credential");
    });

    let definition: CredentialTypeDefinition | undefined;
    await recorder.run(Kind.SCHEMA, false, () => {
      definition = credentialTypeOfUri(options.issuerUrl, facts.typeUri);
      if (!definition) fail(Failure.SCHEMA_INVALID, `${facts.typeUri} is not a credential type of this issuer`);
      const problem = schemaProblem(definition as CredentialTypeDefinition, claims, facts.format === CredentialFormat.SD_JWT_VC);
      if (problem) fail(Failure.SCHEMA_INVALID, problem);
    });
    if (definition) facts.type = definition.type;

    if (expectations) {
      await recorder.run(Kind.REQUIRED_CLAIMS, false, () => {
        const missing = expectations.requiredClaims.filter((name) => !(name in (claims ?? {})));
        if (missing.length > 0) fail(Failure.REQUIRED_CLAIM_MISSING, `not disclosed: ${missing.join(", ")}`);
      });
    }

    // Claims only for a credential that passed every check, so a careless caller cannot act on a failed one.
    if (recorder.verified) facts.claims = claims;
    return { verified: recorder.verified, failure: recorder.failure, checks: recorder.checks, credential: facts, keyBindingIssuedAt };
  }

  /**
   * The disclosed subject claims. Every disclosure must be referenced by a digest
   * in the signed payload exactly once (SD-JWT §7.1): an altered or added
   * disclosure has a digest nobody signed, and is refused rather than ignored.
   */
  async function disclosedClaims(parsed: ParsedSdJwt): Promise<Record<string, unknown>> {
    let disclosures: Awaited<ReturnType<typeof decodeSdJwt>>["disclosures"];
    try {
      ({ disclosures } = await decodeSdJwt(parsed.withoutKeyBinding, hasher));
    } catch {
      return fail(Failure.DISCLOSURE_INVALID, "a disclosure is not a base64url JSON array");
    }
    const digests = await Promise.all(disclosures.map((disclosure) => disclosure.digest({ hasher, alg: sdHashAlgorithm })));
    if (new Set(digests).size !== digests.length) fail(Failure.DISCLOSURE_INVALID, "a disclosure is repeated");
    const { unpackedObj, disclosureKeymap } = await unpack(parsed.payload, disclosures, hasher);
    const referenced = new Set(Object.values(disclosureKeymap));
    const unreferenced = digests.filter((value) => !referenced.has(value));
    if (unreferenced.length > 0) fail(Failure.DISCLOSURE_INVALID, `${unreferenced.length} disclosure(s) match no digest the issuer signed`);
    for (const disclosure of disclosures) {
      if (disclosure.key !== undefined && (registeredSdJwtClaims.has(disclosure.key) || disclosure.key in parsed.payload)) {
        fail(Failure.DISCLOSURE_INVALID, `disclosure ${disclosure.key} would overwrite a signed claim`);
      }
    }
    const unpacked = unpackedObj as Record<string, unknown>;
    return Object.fromEntries(Object.entries(unpacked).filter(([name]) => !registeredSdJwtClaims.has(name)));
  }

  /** Checks the key-binding JWT; returns when the holder signed it. */
  async function checkKeyBinding(parsed: ParsedSdJwt, expectations: PresentationExpectations): Promise<Date> {
    if (!parsed.keyBindingJwt) return fail(Failure.KEY_BINDING_MISSING, "the presentation has no key-binding JWT");
    const confirmation = parsed.payload.cnf;
    if (!isRecord(confirmation) || !isRecord(confirmation.jwk)) return fail(Failure.KEY_BINDING_INVALID, "the credential has no cnf key");
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      ({ header, payload } = decodeJwt(parsed.keyBindingJwt));
    } catch {
      return fail(Failure.KEY_BINDING_INVALID, "the key-binding JWT is not a compact JWS");
    }
    if (header.typ !== "kb+jwt") fail(Failure.KEY_BINDING_INVALID, "the key-binding JWT's typ must be kb+jwt");
    if (header.alg !== "EdDSA") fail(Failure.KEY_BINDING_INVALID, "the key-binding JWT must be EdDSA, as the cnf key is Ed25519");
    try {
      const holderKey = await importJWK(confirmation.jwk as JWK, "EdDSA");
      await compactVerify(parsed.keyBindingJwt, holderKey, { algorithms: ["EdDSA"] });
    } catch {
      fail(Failure.KEY_BINDING_INVALID, "the key-binding JWT is not signed by the credential's cnf key");
    }
    const expectedHash = createHash("sha256").update(parsed.withoutKeyBinding).digest("base64url");
    if (payload.sd_hash !== expectedHash) fail(Failure.KEY_BINDING_INVALID, "sd_hash does not match the presented SD-JWT");
    if (payload.nonce !== expectations.nonce) fail(Failure.NONCE_MISMATCH, "the key-binding JWT's nonce is not the verifier's");
    if (payload.aud !== expectations.audience) {
      fail(Failure.AUDIENCE_MISMATCH, "the key-binding JWT is addressed to another verifier");
    }
    const issuedAt = dateOfSeconds(payload.iat);
    if (!issuedAt) return fail(Failure.KEY_BINDING_INVALID, "the key-binding JWT has no iat");
    const ageMs = now().getTime() - issuedAt.getTime();
    if (ageMs > expectations.maxKeyBindingAgeMs) fail(Failure.KEY_BINDING_STALE, `signed ${Math.round(ageMs / 1000)} s ago`);
    if (ageMs < -clockSkewSeconds * 1000) fail(Failure.KEY_BINDING_STALE, "signed in the future");
    return issuedAt;
  }

  return {
    verifyCredential: (encoded, expectedFormat) => verify(encoded, expectedFormat, undefined),
    verifyPresentation: (presentation, expectations) => verify(presentation, CredentialFormat.SD_JWT_VC, expectations),
  };
}
