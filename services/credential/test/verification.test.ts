// Goal: the verifier's time- and content-dependent checks, which a running
// service cannot be made to meet on demand: a credential is not yet valid
// before validFrom and expired after validUntil (with a minute of clock skew
// either way), yet its other checks still run and report; a status entry that
// points anywhere but this issuer's lists, or at an index the list lacks, is
// STATUS_UNAVAILABLE (an unknown status is not a good one); claims that break
// the type's schema, algorithms other than EdDSA, and key bindings signed in
// the future each fail with their reason. The issuer keys and status lists are
// in-memory doubles here; the test is about the verifier.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  CheckOutcome,
  CredentialFormat,
  VerificationCheckKind,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { createSealer } from "@trustmesh/runtime";
import { UnsecuredJWT } from "jose";
import { credentialTypeOfKind } from "../src/credential-types.ts";
import { createIssuerKey, type IssuerKeys, type SigningKey } from "../src/issuer-keys.ts";
import { issueSdJwtVc } from "../src/sd-jwt-vc.ts";
import type { ListedStatus, StatusLists } from "../src/status-lists.ts";
import { signVcJwt, vcJwtPayload } from "../src/vc-jwt.ts";
import { createVerifier, type VerificationOutcome } from "../src/verification.ts";
import { createHolderWallet, type HolderWallet } from "./support/holder.ts";

const issuerUrl = "https://id.example.com";
const issuerDid = "did:web:id.example.com";
const validFrom = new Date("2026-01-01T00:00:00Z");
const validUntil = new Date("2027-01-01T00:00:00Z");
const listId = "0f6c3d2e-4b1a-4c5d-8e9f-a0b1c2d3e4f5";

describe("verifier", () => {
  let key: SigningKey;
  let issuerKeys: IssuerKeys;
  let wallet: HolderWallet;
  let listed: ListedStatus | undefined = "valid";
  let clock = new Date("2026-06-01T00:00:00Z");
  const statusLists: StatusLists = { publish: async () => undefined, statusAt: async () => listed };
  const listedStatus = statusLists.statusAt;

  before(async () => {
    const sealer = createSealer(new Map([["k", randomBytes(32)]]), "k");
    const stored = await createIssuerKey(sealer);
    const { createPrivateKey, createPublicKey } = await import("node:crypto");
    key = { kid: stored.kid, privateKey: createPrivateKey(sealer.open(stored.privateKeySealed, stored.kid).toString("utf8")) };
    const publicKey = createPublicKey({ key: stored.publicJwk, format: "jwk" });
    issuerKeys = {
      signingKey: async () => key,
      publicKey: async (kid) => (kid === stored.kid ? publicKey : undefined),
      allKeys: async () => [stored],
      rotate: async () => stored.kid,
      rotateIfOlderThan: async () => false,
    };
    wallet = await createHolderWallet();
  });

  beforeEach(() => {
    statusLists.statusAt = listedStatus;
    listed = "valid";
    clock = new Date("2026-06-01T00:00:00Z");
  });

  const verifier = () => createVerifier({ issuerDid, issuerUrl, issuerKeys, statusLists, now: () => clock });
  const content = (claims: Record<string, unknown> = { email: "ada@example.com" }) => ({
    id: crypto.randomUUID(),
    issuerDid,
    issuerUrl,
    holderDid: wallet.did,
    definition: credentialTypeOfKind("VERIFIED_EMAIL"),
    claims,
    validFrom,
    validUntil,
    statusListId: listId,
    statusListIndex: 42,
  });
  const vcJwt = (claims?: Record<string, unknown>) => signVcJwt(vcJwtPayload(content(claims)), issuerDid, key);
  const outcomeOf = (result: VerificationOutcome, kind: VerificationCheckKind) => result.checks.find((check) => check.kind === kind);

  it("verifies inside the validity window, and reports NOT_YET_VALID and EXPIRED outside it, beyond a minute's skew", async () => {
    const credential = await vcJwt();
    assert.equal((await verifier().verifyCredential(credential, CredentialFormat.UNSPECIFIED)).verified, true);
    clock = new Date(validFrom.getTime() - 30_000);
    assert.equal((await verifier().verifyCredential(credential, CredentialFormat.UNSPECIFIED)).verified, true, "within the skew");
    clock = new Date(validFrom.getTime() - 120_000);
    assert.equal((await verifier().verifyCredential(credential, CredentialFormat.UNSPECIFIED)).failure, VerificationFailure.NOT_YET_VALID);
    clock = new Date(validUntil.getTime() + 120_000);
    const expired = await verifier().verifyCredential(credential, CredentialFormat.UNSPECIFIED);
    assert.equal(expired.failure, VerificationFailure.EXPIRED);
    assert.equal(outcomeOf(expired, VerificationCheckKind.STATUS)?.outcome, CheckOutcome.PASSED, "later checks still run and report");
    assert.equal(expired.credential.claims, undefined);
  });

  it("expires an SD-JWT VC by its exp", async () => {
    const credential = await issueSdJwtVc(content(), key);
    clock = new Date(validUntil.getTime() + 120_000);
    assert.equal((await verifier().verifyCredential(credential, CredentialFormat.UNSPECIFIED)).failure, VerificationFailure.EXPIRED);
  });

  it("reports STATUS_UNAVAILABLE when the list has no such entry, or the entry points at another host's list", async () => {
    listed = undefined;
    assert.equal(
      (await verifier().verifyCredential(await vcJwt(), CredentialFormat.UNSPECIFIED)).failure,
      VerificationFailure.STATUS_UNAVAILABLE,
    );
    listed = "valid";
    const elsewhere = await issueSdJwtVc({ ...content(), issuerUrl: "https://lists.elsewhere.example" }, key);
    const result = await verifier().verifyCredential(elsewhere, CredentialFormat.UNSPECIFIED);
    assert.equal(result.failure, VerificationFailure.STATUS_UNAVAILABLE);
  });

  it("reports revocation before suspension when both lists say so", async () => {
    // The revocation list says revoked and the suspension list says suspended.
    statusLists.statusAt = async (target) => (target.kind === "bitstring" && target.purpose === "revocation" ? "revoked" : "suspended");
    assert.equal((await verifier().verifyCredential(await vcJwt(), CredentialFormat.UNSPECIFIED)).failure, VerificationFailure.REVOKED);
  });

  it("fails claims that break the type's schema, even under a valid signature", async () => {
    const result = await verifier().verifyCredential(await vcJwt({ email: "not an email", extra: 1 }), CredentialFormat.UNSPECIFIED);
    assert.equal(result.failure, VerificationFailure.SCHEMA_INVALID);
    assert.match(outcomeOf(result, VerificationCheckKind.SCHEMA)?.detail ?? "", /email/);
  });

  it("refuses unsigned and non-EdDSA tokens as UNSUPPORTED", async () => {
    const unsigned = new UnsecuredJWT(vcJwtPayload(content())).encode();
    const result = await verifier().verifyCredential(unsigned, CredentialFormat.UNSPECIFIED);
    assert.equal(result.failure, VerificationFailure.UNSUPPORTED);
    assert.equal(outcomeOf(result, VerificationCheckKind.SIGNATURE)?.outcome, CheckOutcome.SKIPPED);
  });

  it("fails a key binding signed in the future", async () => {
    const credential = await issueSdJwtVc(content(), key);
    const nonce = "a-nonce-of-16-chars";
    const future = Math.floor(clock.getTime() / 1000) + 600;
    const presentation = await wallet.present(credential, { email: true }, { nonce, audience: "v", issuedAtSeconds: future });
    const result = await verifier().verifyPresentation(presentation, {
      nonce,
      audience: "v",
      requiredClaims: [],
      maxKeyBindingAgeMs: 300_000,
    });
    assert.equal(result.failure, VerificationFailure.KEY_BINDING_STALE);
  });
});
