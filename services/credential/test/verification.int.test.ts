// Goal: VerifyCredential and VerifyPresentation, over the network against the
// real process, pass genuine credentials with every check reported, and fail
// forged, foreign, altered, replayed and unbound ones with the reason a
// verifier can act on. An SD-JWT VC presented with only over_18 disclosed
// verifies and reveals no other claim; a tampered disclosure, a wrong nonce,
// or a presentation replayed to another audience each fail.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import {
  CheckOutcome,
  type Credential,
  CredentialFormat,
  CredentialStatus,
  CredentialType,
  KeyCustody,
  VerificationCheckKind,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { generateKeyPair, SignJWT } from "jose";
import { rejectsWith } from "./support/expect.ts";
import { createHolderWallet, type HolderWallet } from "./support/holder.ts";
import { bearer, type CredentialPlatform, startCredentialPlatform } from "./support/platform.ts";

describe("VerifyCredential and VerifyPresentation over the network", function () {
  this.timeout(120_000);
  let platform: CredentialPlatform;
  let issuerDid: string;
  let wallet: HolderWallet;
  let identity: Credential;
  let otherIdentity: Credential;
  let vcJwt: Credential;
  const holder = crypto.randomUUID();
  const audience = "https://verifier.example/bar";
  const nonce = "n-0S6_WzA2Mj-8f4Gq1";

  const verifyPresentation = (
    presentation: string,
    overrides: Partial<{ nonce: string; audience: string; requiredClaims: string[] }> = {},
  ) => platform.client.verifyPresentation({ presentation, nonce, audience, ...overrides });

  before(async () => {
    platform = await startCredentialPlatform();
    issuerDid = JSON.parse(await (await fetch(`${platform.httpUrl}/.well-known/did.json`)).text()).id;
    const admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
    // The holder registers their own wallet key, so they can sign key-binding JWTs.
    wallet = await createHolderWallet();
    await platform.client.createDid(
      { idempotencyKey: "wallet", keyCustody: KeyCustody.HOLDER, keyProofJwt: await wallet.keyProof({ issuerDid, userId: holder }) },
      bearer(await platform.userToken(holder)),
    );
    const issue = async (key: string, format: CredentialFormat) =>
      (
        await platform.client.issueCredential(
          {
            idempotencyKey: key,
            userId: holder,
            holderDid: wallet.did,
            format,
            claims: { case: "identity", value: { givenName: "Ada", familyName: "Lovelace", birthDate: "1990-12-10" } },
          },
          admin,
        )
      ).credential as Credential;
    identity = await issue("identity-sd", CredentialFormat.SD_JWT_VC);
    otherIdentity = await issue("identity-sd-2", CredentialFormat.SD_JWT_VC);
    vcJwt = await issue("identity-jwt", CredentialFormat.VC_JWT);
  });

  after(async () => {
    await platform?.stop();
  });

  describe("VerifyCredential", () => {
    it("verifies both formats, reporting every check and the claims", async () => {
      for (const credential of [identity, vcJwt]) {
        const result = await platform.client.verifyCredential({ credential: credential.encoded });
        assert.equal(result.verified, true, JSON.stringify(result.checks));
        assert.equal(result.failure, VerificationFailure.UNSPECIFIED);
        const kinds = result.checks.map((check) => check.kind);
        for (const kind of [
          VerificationCheckKind.FORMAT,
          VerificationCheckKind.ISSUER,
          VerificationCheckKind.SIGNATURE,
          VerificationCheckKind.VALIDITY_PERIOD,
          VerificationCheckKind.STATUS,
          VerificationCheckKind.SCHEMA,
        ]) {
          assert.ok(kinds.includes(kind), `${VerificationCheckKind[kind]} reported`);
        }
        assert.equal(result.credential?.type, CredentialType.VERIFIED_IDENTITY);
        assert.equal(result.credential?.format, credential.format);
        assert.equal(result.credential?.issuerDid, issuerDid);
        assert.equal(result.credential?.holderDid, wallet.did);
        assert.equal(result.credential?.status, CredentialStatus.ACTIVE);
        assert.deepEqual(result.credential?.claims, { given_name: "Ada", family_name: "Lovelace", birthdate: "1990-12-10", over_18: true });
      }
      const disclosures = (await platform.client.verifyCredential({ credential: vcJwt.encoded })).checks.find(
        (check) => check.kind === VerificationCheckKind.DISCLOSURES,
      );
      assert.equal(disclosures?.outcome, CheckOutcome.SKIPPED, "a VC-JWT has no disclosures");
    });

    it("fails a forged signature, an unknown key, a foreign issuer, garbage and the wrong format, each with its reason", async () => {
      const [header, payload, signature] = vcJwt.encoded.split(".") as [string, string, string];
      const flipped = `${header}.${payload}.${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
      const forged = await platform.client.verifyCredential({ credential: flipped });
      assert.equal(forged.failure, VerificationFailure.INVALID_SIGNATURE);
      assert.equal(forged.credential?.claims, undefined);
      const skipped = forged.checks.filter((check) => check.outcome === CheckOutcome.SKIPPED).map((check) => check.kind);
      assert.ok(skipped.includes(VerificationCheckKind.STATUS), "nothing after a failed signature is checked");

      const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
      const sign = (kid: string, issuer: string) =>
        new SignJWT({ ...claims, issuer, iss: issuer }).setProtectedHeader({ alg: "EdDSA", typ: "vc+jwt", kid }).sign(privateKey);
      const unknownKey = await platform.client.verifyCredential({ credential: await sign(`${issuerDid}#not-a-key-of-ours`, issuerDid) });
      assert.equal(unknownKey.failure, VerificationFailure.UNKNOWN_KEY);
      const foreign = await platform.client.verifyCredential({ credential: await sign("did:web:evil.example#k", "did:web:evil.example") });
      assert.equal(foreign.failure, VerificationFailure.UNTRUSTED_ISSUER);

      const garbage = await platform.client.verifyCredential({ credential: "abc.def.ghi" });
      assert.equal(garbage.failure, VerificationFailure.MALFORMED);
      assert.equal(garbage.checks[0]?.outcome, CheckOutcome.FAILED);
      const wrongFormat = await platform.client.verifyCredential({ credential: vcJwt.encoded, format: CredentialFormat.SD_JWT_VC });
      assert.equal(wrongFormat.failure, VerificationFailure.MALFORMED);
    });

    it("refuses input that is not a credential at all as INVALID_ARGUMENT", async () => {
      await rejectsWith(platform.client.verifyCredential({ credential: "" }), Code.InvalidArgument, { field: "credential" });
      await rejectsWith(platform.client.verifyCredential({ credential: "<script>" }), Code.InvalidArgument, { field: "credential" });
      await rejectsWith(platform.client.verifyCredential({ credential: "a".repeat(65_537) }), Code.InvalidArgument, {
        field: "credential",
      });
    });
  });

  describe("VerifyPresentation", () => {
    it("verifies a presentation disclosing only over_18 and returns exactly that claim", async () => {
      const presentation = await wallet.present(identity.encoded, { over_18: true }, { nonce, audience });
      const result = await verifyPresentation(presentation, { requiredClaims: ["over_18"] });
      assert.equal(result.verified, true, JSON.stringify(result.checks));
      assert.deepEqual(result.credential?.claims, { over_18: true });
      assert.ok(!presentation.includes(Buffer.from('"Lovelace"').toString("base64url")), "the other claims are not in the presentation");
      assert.ok(result.keyBindingIssuedAt);
      const keyBinding = result.checks.find((check) => check.kind === VerificationCheckKind.KEY_BINDING);
      assert.equal(keyBinding?.outcome, CheckOutcome.PASSED);
    });

    it("fails a presentation whose required claim was not disclosed", async () => {
      const presentation = await wallet.present(identity.encoded, { over_18: true }, { nonce, audience });
      const result = await verifyPresentation(presentation, { requiredClaims: ["over_18", "birthdate"] });
      assert.equal(result.failure, VerificationFailure.REQUIRED_CLAIM_MISSING);
      assert.equal(result.credential?.claims, undefined);
    });

    it("fails a tampered disclosure", async () => {
      const presentation = await wallet.present(identity.encoded, { over_18: true }, { nonce, audience });
      const parts = presentation.split("~");
      const [salt] = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString()) as [string];
      // The holder claims a different value under the same salt: its digest is one the issuer never signed.
      parts[1] = Buffer.from(JSON.stringify([salt, "over_18", "yes, really"])).toString("base64url");
      const result = await verifyPresentation(parts.join("~"));
      assert.equal(result.verified, false);
      assert.equal(result.failure, VerificationFailure.DISCLOSURE_INVALID);
      assert.equal(result.credential?.claims, undefined);
    });

    it("fails a disclosure added from another credential of the same holder, or made up", async () => {
      // A genuine disclosure, signed for the holder's other credential, not this one.
      const other = await wallet.present(otherIdentity.encoded, { given_name: true }, { nonce, audience });
      const borrowed = other.split("~")[1] ?? "";
      const madeUp = Buffer.from(JSON.stringify(["c2FsdHNhbHRzYWx0", "given_name", "Mallory"])).toString("base64url");
      for (const added of [borrowed, madeUp]) {
        const parts = (await wallet.present(identity.encoded, { over_18: true }, { nonce, audience })).split("~");
        parts.splice(1, 0, added);
        const result = await verifyPresentation(parts.join("~"));
        assert.equal(result.failure, VerificationFailure.DISCLOSURE_INVALID);
      }
    });

    it("fails a wrong nonce, another audience (a replay), a missing or foreign key binding, and a stale one", async () => {
      const presentation = await wallet.present(identity.encoded, { over_18: true }, { nonce, audience });
      assert.equal(
        (await verifyPresentation(presentation, { nonce: "another-nonce-0123456" })).failure,
        VerificationFailure.NONCE_MISMATCH,
      );
      assert.equal(
        (await verifyPresentation(presentation, { audience: "https://other-verifier.example" })).failure,
        VerificationFailure.AUDIENCE_MISMATCH,
      );
      const withoutBinding = presentation.slice(0, presentation.lastIndexOf("~") + 1);
      assert.equal((await verifyPresentation(withoutBinding)).failure, VerificationFailure.KEY_BINDING_MISSING);
      const stranger = await createHolderWallet();
      const boundByStranger = await stranger.present(identity.encoded, { over_18: true }, { nonce, audience });
      assert.equal((await verifyPresentation(boundByStranger)).failure, VerificationFailure.KEY_BINDING_INVALID);
      // A key binding made for one selection of disclosures, attached to another: sd_hash differs.
      const otherSelection = await wallet.present(identity.encoded, { over_18: true, birthdate: true }, { nonce, audience });
      const swapped = `${otherSelection.slice(0, otherSelection.lastIndexOf("~") + 1)}${presentation.slice(presentation.lastIndexOf("~") + 1)}`;
      assert.equal((await verifyPresentation(swapped)).failure, VerificationFailure.KEY_BINDING_INVALID);
      const stale = await wallet.present(
        identity.encoded,
        { over_18: true },
        { nonce, audience, issuedAtSeconds: Math.floor(Date.now() / 1000) - 600 },
      );
      assert.equal((await verifyPresentation(stale)).failure, VerificationFailure.KEY_BINDING_STALE);
      const allowedOlder = await platform.client.verifyPresentation({
        presentation: stale,
        nonce,
        audience,
        maxKeyBindingAge: { seconds: 900n },
      });
      assert.equal(allowedOlder.verified, true, "the verifier may allow an older binding");
    });

    it("fails a revoked credential's presentation with reason revoked", async () => {
      const admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
      const { credential } = await platform.client.issueCredential(
        {
          idempotencyKey: "to-revoke",
          userId: holder,
          holderDid: wallet.did,
          claims: { case: "identity", value: { givenName: "Ada", familyName: "Lovelace", birthDate: "1990-12-10" } },
        },
        admin,
      );
      await platform.client.revokeCredential({ credentialId: credential?.id ?? "", reason: "test" }, admin);
      const presentation = await wallet.present(credential?.encoded ?? "", { over_18: true }, { nonce, audience });
      const result = await verifyPresentation(presentation);
      assert.equal(result.failure, VerificationFailure.REVOKED);
      assert.equal(result.credential?.status, CredentialStatus.REVOKED);
    });

    it("treats a VC-JWT as no presentation, and refuses bad input as INVALID_ARGUMENT", async () => {
      assert.equal((await verifyPresentation(vcJwt.encoded)).failure, VerificationFailure.MALFORMED);
      const presentation = await wallet.present(identity.encoded, { over_18: true }, { nonce, audience });
      await rejectsWith(verifyPresentation(presentation, { nonce: "short" }), Code.InvalidArgument, { field: "nonce" });
      await rejectsWith(verifyPresentation(presentation, { audience: "" }), Code.InvalidArgument, { field: "audience" });
      await rejectsWith(verifyPresentation(presentation, { requiredClaims: ["over 18"] }), Code.InvalidArgument, {
        field: "required_claims",
      });
      await rejectsWith(
        platform.client.verifyPresentation({ presentation, nonce, audience, maxKeyBindingAge: { seconds: 7200n } }),
        Code.InvalidArgument,
        { field: "max_key_binding_age" },
      );
    });
  });
});
