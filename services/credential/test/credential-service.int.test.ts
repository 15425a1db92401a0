// Goal: every CredentialService RPC, over the network against the real process
// on real Postgres (with real auth minting and publishing the tokens), does what
// the contract says with good input and refuses bad input with the right code
// and the field named, changing nothing; only the holder and admins read a
// credential; revocation, suspension and reinstatement show in the published
// status lists (signed, cached with ETags) and in verification; status indexes
// are random; keys are sealed at rest; a credential issued before an issuer
// key rotation still verifies after it; the business metrics count it all.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { Code } from "@connectrpc/connect";
import { getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";
import {
  type Credential,
  CredentialFormat,
  CredentialStatus,
  CredentialType,
  KeyCustody,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from "jose";
import pg from "pg";
import { rejectsWith } from "./support/expect.ts";
import { createHolderWallet } from "./support/holder.ts";
import { bearer, type CredentialPlatform, startCredentialPlatform } from "./support/platform.ts";

const run = promisify(execFile);

describe("CredentialService over the network", function () {
  this.timeout(120_000);
  let platform: CredentialPlatform;
  let database: pg.Client;
  let issuerDid: string;
  let admin: ReturnType<typeof bearer>;
  let auth: ReturnType<typeof bearer>;
  const alice = crypto.randomUUID();
  const bob = crypto.randomUUID();
  let asAlice: ReturnType<typeof bearer>;
  let asBob: ReturnType<typeof bearer>;

  const countRows = async (table: string) => Number((await database.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  async function issueEmail(userId: string, key: string, format = CredentialFormat.UNSPECIFIED): Promise<Credential> {
    const { credential } = await platform.client.issueCredential(
      { idempotencyKey: key, userId, format, claims: { case: "email", value: { email: `${key}@example.com` } } },
      auth,
    );
    assert.ok(credential);
    return credential;
  }

  before(async () => {
    platform = await startCredentialPlatform();
    database = new pg.Client({ connectionString: platform.databaseUrl });
    await database.connect();
    admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
    auth = bearer(await platform.serviceToken("auth"));
    asAlice = bearer(await platform.userToken(alice));
    asBob = bearer(await platform.userToken(bob));
    const document = JSON.parse(await (await fetch(`${platform.httpUrl}/.well-known/did.json`)).text()) as { id: string };
    issuerDid = document.id;
  });

  after(async () => {
    await database?.end();
    await platform?.stop();
  });

  describe("CreateDid and ResolveDid", () => {
    it("creates a custodial did:key, primary as the user's first, sealed at rest, and replays by idempotency key", async () => {
      const request = {
        idempotencyKey: "did-1",
        keyCustody: KeyCustody.SERVICE,
        walletAddress: "eip155:1:0xab16a96D359eC26a11e2C2b3d8f8B8942d5Bfcdb",
      };
      const erin = crypto.randomUUID();
      const asErin = bearer(await platform.userToken(erin));
      const first = await platform.client.createDid(request, asErin);
      assert.match(first.did?.did ?? "", /^did:key:z6Mk/);
      assert.equal(first.did?.userId, erin);
      assert.equal(first.did?.primary, true);
      assert.equal(first.did?.keyCustody, KeyCustody.SERVICE);
      assert.equal(JSON.parse(first.didDocumentJson).id, first.did?.did);
      const again = await platform.grpcClient.createDid(request, asErin);
      assert.equal(again.did?.did, first.did?.did, "a replay returns the DID created first");
      await rejectsWith(platform.client.createDid({ ...request, walletAddress: "" }, asErin), Code.AlreadyExists, {
        reason: "IDEMPOTENCY_KEY_REUSED",
      });
      const sealed = (await database.query("SELECT private_key_sealed FROM holder_did WHERE did = $1", [first.did?.did])).rows[0];
      assert.ok(!Buffer.from(sealed.private_key_sealed).toString("latin1").includes("PRIVATE KEY"), "sealed, not plain PKCS#8");

      const second = await platform.client.createDid({ idempotencyKey: "did-2", keyCustody: KeyCustody.SERVICE, primary: true }, asAlice);
      assert.equal(second.did?.primary, true);
      const primaries = await database.query('SELECT did FROM holder_did WHERE user_id = $1 AND "primary"', [alice]);
      assert.deepEqual(
        primaries.rows.map((row) => row.did),
        [second.did?.did],
        "one primary per user: the new one",
      );
    });

    it("registers a holder's own key only with a valid proof of possession", async () => {
      const wallet = await createHolderWallet();
      const create = (keyProofJwt: string, as = asBob, idempotencyKey = crypto.randomUUID()) =>
        platform.client.createDid({ idempotencyKey, keyCustody: KeyCustody.HOLDER, keyProofJwt }, as);
      await rejectsWith(create(await wallet.keyProof({ issuerDid: "did:web:elsewhere.example", userId: bob })), Code.InvalidArgument, {
        field: "key_proof_jwt",
      });
      await rejectsWith(create(await wallet.keyProof({ issuerDid, userId: alice })), Code.InvalidArgument, { field: "key_proof_jwt" });
      await rejectsWith(create(await wallet.keyProof({ issuerDid, userId: bob, typ: "JWT" })), Code.InvalidArgument, {
        field: "key_proof_jwt",
      });
      const stale = Math.floor(Date.now() / 1000) - 3600;
      await rejectsWith(create(await wallet.keyProof({ issuerDid, userId: bob, issuedAtSeconds: stale })), Code.InvalidArgument, {
        field: "key_proof_jwt",
      });
      const created = await create(await wallet.keyProof({ issuerDid, userId: bob }));
      assert.equal(created.did?.did, wallet.did, "the DID is the holder's own key");
      assert.equal(created.did?.keyCustody, KeyCustody.HOLDER);
      const row = (await database.query("SELECT private_key_sealed FROM holder_did WHERE did = $1", [wallet.did])).rows[0];
      assert.equal(row.private_key_sealed, null, "the service never had the private key");
      // Someone else cannot claim the same key, even with a proof of their own making for it.
      await rejectsWith(create(await wallet.keyProof({ issuerDid, userId: alice }), asAlice), Code.AlreadyExists, { reason: "DID_TAKEN" });
    });

    it("refuses bad CreateDid input with the field named, and anonymous callers, creating nothing", async () => {
      const before = await countRows("holder_did");
      await rejectsWith(
        platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.UNSPECIFIED }, asAlice),
        Code.InvalidArgument,
        {
          field: "key_custody",
        },
      );
      await rejectsWith(platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.HOLDER }, asAlice), Code.InvalidArgument, {
        message: /key_proof_jwt is required/,
      });
      await rejectsWith(
        platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.SERVICE, walletAddress: "0xnot-caip-10" }, asAlice),
        Code.InvalidArgument,
        { field: "wallet_address" },
      );
      await rejectsWith(
        platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.HOLDER, keyProofJwt: "a.b.c" }, asAlice),
        Code.InvalidArgument,
        {
          field: "key_proof_jwt",
        },
      );
      await rejectsWith(platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.SERVICE }), Code.Unauthenticated);
      await rejectsWith(platform.client.createDid({ idempotencyKey: "x", keyCustody: KeyCustody.SERVICE }, auth), Code.PermissionDenied);
      assert.equal(await countRows("holder_did"), before);
    });

    it("resolves any Ed25519 did:key locally and this issuer's did:web, and nothing else", async () => {
      const specDid = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH";
      const key = await platform.client.resolveDid({ did: specDid });
      assert.equal(JSON.parse(key.didDocumentJson).verificationMethod[0].type, "Multikey");
      const web = await platform.grpcClient.resolveDid({ did: issuerDid });
      const document = JSON.parse(web.didDocumentJson);
      assert.equal(document.id, issuerDid);
      assert.equal(document.verificationMethod[0].publicKeyJwk.crv, "Ed25519");
      assert.ok(web.documentMetadata?.created, "created: when the first key was made");
      await rejectsWith(platform.client.resolveDid({ did: "did:web:attacker.example" }), Code.NotFound, { field: "did" });
      await rejectsWith(
        platform.client.resolveDid({ did: "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme" }),
        Code.InvalidArgument,
        {
          field: "did",
        },
      );
      await rejectsWith(platform.client.resolveDid({ did: "did:example:123" }), Code.InvalidArgument, { field: "did" });
    });
  });

  describe("IssueCredential", () => {
    it("issues for auth's service token and for admins, creating the user's holder DID on first issuance", async () => {
      const carol = crypto.randomUUID();
      const sdJwt = await issueEmail(carol, "issue-1");
      assert.equal(sdJwt.format, CredentialFormat.SD_JWT_VC, "the configured default");
      assert.equal(sdJwt.type, CredentialType.VERIFIED_EMAIL);
      assert.equal(sdJwt.status, CredentialStatus.ACTIVE);
      assert.deepEqual(sdJwt.claims, { email: "issue-1@example.com" });
      assert.equal(sdJwt.issuerDid, issuerDid);
      assert.match(sdJwt.issuerKeyId, new RegExp(`^${issuerDid}#`));
      assert.equal(sdJwt.statusListEntries.length, 1);
      const dids = await database.query('SELECT did, key_custody, "primary" FROM holder_did WHERE user_id = $1', [carol]);
      assert.deepEqual(dids.rows, [{ did: sdJwt.holderDid, key_custody: "SERVICE", primary: true }]);

      const validUntilSeconds = Math.floor(Date.now() / 1000) + 86_400;
      const { credential: identity } = await platform.grpcClient.issueCredential(
        {
          idempotencyKey: "issue-2",
          userId: carol,
          format: CredentialFormat.VC_JWT,
          claims: { case: "identity", value: { givenName: "Carol", familyName: "Example", birthDate: "2000-01-31" } },
          validUntil: { seconds: BigInt(validUntilSeconds), nanos: 0 },
        },
        admin,
      );
      assert.equal(identity?.holderDid, sdJwt.holderDid, "the same primary DID");
      assert.equal(identity?.format, CredentialFormat.VC_JWT);
      assert.deepEqual(identity?.claims, { given_name: "Carol", family_name: "Example", birthdate: "2000-01-31", over_18: true });
      assert.deepEqual(
        identity?.statusListEntries.map((entry) => entry.uri.split("/").at(-1)),
        ["revocation", "suspension"],
      );
      const payload = decodeJwt(identity?.encoded ?? "");
      assert.deepEqual(payload.type, ["VerifiableCredential", "VerifiedIdentityCredential"]);
      assert.equal(payload.exp, validUntilSeconds);
      assert.equal(payload.validUntil, new Date(validUntilSeconds * 1000).toISOString());
    });

    it("issues to a named DID of the user, and refuses a DID that is not theirs", async () => {
      const { did } = await platform.client.createDid({ idempotencyKey: "named", keyCustody: KeyCustody.SERVICE }, asBob);
      const { credential } = await platform.client.issueCredential(
        { idempotencyKey: "named-1", userId: bob, holderDid: did?.did, claims: { case: "phone", value: { phoneNumber: "+447700900123" } } },
        admin,
      );
      assert.equal(credential?.holderDid, did?.did);
      assert.equal(credential?.type, CredentialType.VERIFIED_PHONE);
      await rejectsWith(
        platform.client.issueCredential(
          {
            idempotencyKey: "named-2",
            userId: alice,
            holderDid: did?.did,
            claims: { case: "phone", value: { phoneNumber: "+447700900123" } },
          },
          admin,
        ),
        Code.NotFound,
        { field: "holder_did" },
      );
    });

    it("admits only admins and the auth service", async () => {
      const request = { idempotencyKey: "who", userId: alice, claims: { case: "email" as const, value: { email: "a@example.com" } } };
      await rejectsWith(platform.client.issueCredential(request, asAlice), Code.PermissionDenied);
      await rejectsWith(platform.client.issueCredential(request, bearer(await platform.serviceToken("payments"))), Code.PermissionDenied);
      await rejectsWith(
        platform.client.issueCredential(request, bearer(await platform.serviceToken("auth", "ledger"))),
        Code.Unauthenticated,
      );
      await rejectsWith(platform.client.issueCredential(request), Code.Unauthenticated);
    });

    it("refuses bad input with the field named, issuing nothing", async () => {
      const before = await countRows("credential");
      const base = { idempotencyKey: "bad", userId: alice };
      const hourAgo = { seconds: BigInt(Math.floor(Date.now() / 1000) - 3600), nanos: 0 };
      const cases: [Record<string, unknown>, string][] = [
        [{ ...base, userId: "not-a-uuid", claims: { case: "email", value: { email: "a@example.com" } } }, "user_id"],
        [{ ...base }, "claims"],
        [{ ...base, claims: { case: "email", value: { email: "not an email" } } }, "email.email"],
        [{ ...base, claims: { case: "phone", value: { phoneNumber: "07700900123" } } }, "phone.phone_number"],
        [
          { ...base, claims: { case: "identity", value: { givenName: "A", familyName: "B", birthDate: "2001-02-30" } } },
          "identity.birth_date",
        ],
        [
          { ...base, claims: { case: "identity", value: { givenName: "", familyName: "B", birthDate: "2001-02-03" } } },
          "identity.given_name",
        ],
        [{ ...base, validUntil: hourAgo, claims: { case: "email", value: { email: "a@example.com" } } }, "valid_until"],
        [{ ...base, holderDid: "did:web:x", claims: { case: "email", value: { email: "a@example.com" } } }, "holder_did"],
        [{ ...base, idempotencyKey: "", claims: { case: "email", value: { email: "a@example.com" } } }, "idempotency_key"],
        [{ ...base, format: 7, claims: { case: "email", value: { email: "a@example.com" } } }, "format"],
      ];
      for (const [request, field] of cases) {
        await rejectsWith(platform.client.issueCredential(request as never, admin), Code.InvalidArgument, { field });
      }
      assert.equal(await countRows("credential"), before);
    });

    it("draws status indexes at random from a large list, so they say nothing about the order of issuance", async () => {
      const indexes: number[] = [];
      for (let n = 0; n < 12; n++) indexes.push((await issueEmail(crypto.randomUUID(), `spread-${n}`)).statusListEntries[0]?.index ?? -1);
      assert.equal(new Set(indexes).size, indexes.length);
      assert.notDeepEqual(
        indexes,
        [...indexes].sort((a, b) => a - b),
        "not in issuance order",
      );
      assert.ok(Math.max(...indexes) > 1000, `spread over the list: ${indexes.join(", ")}`);
      const sizes = await database.query("SELECT DISTINCT size FROM status_list");
      assert.deepEqual(sizes.rows, [{ size: 131_072 }]);
    });

    it("keeps the issuer's private key sealed at rest", async () => {
      const rows = (await database.query("SELECT private_key_sealed FROM issuer_key")).rows;
      assert.ok(rows.length >= 1);
      for (const row of rows) assert.ok(!Buffer.from(row.private_key_sealed).toString("latin1").includes("PRIVATE KEY"));
    });
  });

  describe("GetCredential and ListCredentials", () => {
    it("lets the holder and admins read a credential, and nobody else", async () => {
      const credential = await issueEmail(alice, "read-1");
      assert.equal((await platform.client.getCredential({ credentialId: credential.id }, asAlice)).credential?.encoded, credential.encoded);
      assert.equal((await platform.grpcClient.getCredential({ credentialId: credential.id }, admin)).credential?.id, credential.id);
      await rejectsWith(platform.client.getCredential({ credentialId: credential.id }, asBob), Code.NotFound);
      await rejectsWith(platform.client.getCredential({ credentialId: crypto.randomUUID() }, asAlice), Code.NotFound);
      await rejectsWith(platform.client.getCredential({ credentialId: credential.id }, auth), Code.PermissionDenied);
      await rejectsWith(platform.client.getCredential({ credentialId: credential.id }), Code.Unauthenticated);
      await rejectsWith(platform.client.getCredential({ credentialId: "nope" }, asAlice), Code.InvalidArgument, { field: "credential_id" });
    });

    it("lists by user, holder DID and wallet address, newest first, paged, filtered; a user sees only their own", async () => {
      const dave = crypto.randomUUID();
      const asDave = bearer(await platform.userToken(dave));
      const wallet = "eip155:1:0x0000000000000000000000000000000000000d4e";
      const { did } = await platform.client.createDid(
        { idempotencyKey: "dave", keyCustody: KeyCustody.SERVICE, walletAddress: wallet },
        asDave,
      );
      const issued: Credential[] = [];
      for (let n = 0; n < 5; n++)
        issued.push(await issueEmail(dave, `dave-${n}`, n % 2 === 0 ? CredentialFormat.VC_JWT : CredentialFormat.SD_JWT_VC));

      const pages: string[] = [];
      let pageToken = "";
      do {
        const page = await platform.client.listCredentials({ pageSize: 2, pageToken }, asDave);
        assert.ok(page.credentials.length <= 2);
        pages.push(...page.credentials.map((credential) => credential.id));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      assert.deepEqual(pages, issued.map((credential) => credential.id).reverse(), "every one once, newest first");

      const byDid = await platform.client.listCredentials({ holder: { case: "holderDid", value: did?.did ?? "" } }, asDave);
      assert.equal(byDid.credentials.length, 5);
      const byWallet = await platform.client.listCredentials({ holder: { case: "walletAddress", value: wallet } }, admin);
      assert.equal(byWallet.credentials.length, 5);
      const vcJwts = await platform.client.listCredentials({ format: CredentialFormat.VC_JWT }, asDave);
      assert.equal(vcJwts.credentials.length, 3);
      assert.equal((await platform.client.listCredentials({ type: CredentialType.VERIFIED_PHONE }, asDave)).credentials.length, 0);

      // Another user's id, DID or wallet: the empty answer an unknown one gets.
      assert.equal((await platform.client.listCredentials({ holder: { case: "userId", value: dave } }, asAlice)).credentials.length, 0);
      assert.equal(
        (await platform.client.listCredentials({ holder: { case: "holderDid", value: did?.did ?? "" } }, asAlice)).credentials.length,
        0,
      );
      assert.equal(
        (await platform.client.listCredentials({ holder: { case: "walletAddress", value: wallet } }, asAlice)).credentials.length,
        0,
      );
      assert.equal((await platform.client.listCredentials({ holder: { case: "userId", value: dave } }, admin)).credentials.length, 5);

      await platform.client.revokeCredential({ credentialId: issued[0]?.id ?? "", reason: "test" }, admin);
      const revoked = await platform.client.listCredentials({ status: CredentialStatus.REVOKED }, asDave);
      assert.deepEqual(
        revoked.credentials.map((credential) => credential.id),
        [issued[0]?.id],
      );
      assert.equal((await platform.client.listCredentials({ status: CredentialStatus.ACTIVE }, asDave)).credentials.length, 4);
    });

    it("refuses bad list input with the field named", async () => {
      await rejectsWith(platform.client.listCredentials({ pageSize: 101 }, asAlice), Code.InvalidArgument, { field: "page_size" });
      await rejectsWith(platform.client.listCredentials({ pageToken: "bm9wZQ" }, asAlice), Code.InvalidArgument, { field: "page_token" });
      await rejectsWith(platform.client.listCredentials({ holder: { case: "userId", value: "x" } }, asAlice), Code.InvalidArgument, {
        field: "user_id",
      });
      await rejectsWith(platform.client.listCredentials({ status: 9 as CredentialStatus }, asAlice), Code.InvalidArgument, {
        field: "status",
      });
      await rejectsWith(platform.client.listCredentials({}), Code.Unauthenticated);
    });
  });

  describe("status changes and status lists", () => {
    async function fetchList(uri: string, headers: Record<string, string> = {}) {
      return fetch(uri, { headers });
    }
    async function issuerPublicKey(kid: string) {
      const { didDocumentJson } = await platform.client.resolveDid({ did: issuerDid });
      const method = (JSON.parse(didDocumentJson).verificationMethod as { id: string; publicKeyJwk: JWK }[]).find(
        (entry) => entry.id === kid,
      );
      assert.ok(method, `${kid} is in the DID document`);
      return importJWK(method.publicKeyJwk, "EdDSA");
    }

    it("revokes a VC-JWT through its Bitstring Status List, which is signed, cached and revalidated by ETag", async () => {
      const credential = await issueEmail(alice, "bitstring-1", CredentialFormat.VC_JWT);
      const revocationList = credential.statusListEntries[0]?.uri ?? "";
      const first = await fetchList(revocationList);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("content-type"), "application/vc+jwt");
      assert.match(first.headers.get("cache-control") ?? "", /max-age=\d+/);
      const etag = first.headers.get("etag") ?? "";
      assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
      await first.text();
      assert.equal((await fetchList(revocationList, { "if-none-match": etag })).status, 304);

      const { credential: revoked } = await platform.client.revokeCredential(
        { credentialId: credential.id, reason: "fraud reported" },
        admin,
      );
      assert.equal(revoked?.status, CredentialStatus.REVOKED);
      assert.equal(revoked?.statusReason, "fraud reported");
      assert.ok(revoked?.statusChangedAt);

      const after = await fetchList(revocationList, { "if-none-match": etag });
      assert.equal(after.status, 200, "the list changed, so the old ETag no longer matches");
      const token = await after.text();
      const { protectedHeader } = await compactVerify(token, await issuerPublicKey(String(decodeProtectedHeader(token).kid)));
      assert.equal(protectedHeader.typ, "vc+jwt");
      const subject = decodeJwt(token).credentialSubject as { statusPurpose: string; encodedList: string };
      assert.equal(subject.statusPurpose, "revocation");
      const bits = gunzipSync(Buffer.from(subject.encodedList.slice(1), "base64url"));
      const index = credential.statusListEntries[0]?.index ?? 0;
      assert.ok(((bits[index >> 3] as number) & (0x80 >> (index & 7))) !== 0, "the credential's bit is set");

      const verification = await platform.client.verifyCredential({ credential: credential.encoded });
      assert.equal(verification.verified, false);
      assert.equal(verification.failure, VerificationFailure.REVOKED);
      assert.equal(verification.credential?.status, CredentialStatus.REVOKED);
      assert.equal(verification.credential?.claims, undefined, "no claims from a credential that failed");

      // Revocation is final: revoking again changes nothing, suspending or reinstating is refused.
      assert.equal(
        (await platform.client.revokeCredential({ credentialId: credential.id, reason: "again" }, admin)).credential?.statusReason,
        "fraud reported",
      );
      await rejectsWith(platform.client.suspendCredential({ credentialId: credential.id, reason: "x" }, admin), Code.FailedPrecondition, {
        reason: "CREDENTIAL_REVOKED",
      });
      await rejectsWith(platform.client.reinstateCredential({ credentialId: credential.id, reason: "x" }, admin), Code.FailedPrecondition);
      const history = await database.query("SELECT from_state, to_state, reason FROM credential_status_change WHERE credential_id = $1", [
        credential.id,
      ]);
      assert.deepEqual(history.rows, [{ from_state: "ACTIVE", to_state: "REVOKED", reason: "fraud reported" }]);
    });

    it("suspends and reinstates an SD-JWT VC through its Token Status List", async () => {
      const credential = await issueEmail(alice, "token-1", CredentialFormat.SD_JWT_VC);
      const entry = credential.statusListEntries[0];
      assert.ok(entry);
      await platform.grpcClient.suspendCredential({ credentialId: credential.id, reason: "under review" }, admin);
      const list = await fetchList(entry.uri);
      assert.equal(list.headers.get("content-type"), "application/statuslist+jwt");
      const token = await list.text();
      assert.equal(decodeJwt(token).sub, entry.uri, "sub names the list's own URI");
      assert.equal(getListFromStatusListJWT(token).getStatus(entry.index), 2, "0x02: suspended");
      assert.equal((await platform.client.verifyCredential({ credential: credential.encoded })).failure, VerificationFailure.SUSPENDED);
      assert.equal(
        (await platform.client.getCredential({ credentialId: credential.id }, asAlice)).credential?.status,
        CredentialStatus.SUSPENDED,
      );

      await platform.client.reinstateCredential({ credentialId: credential.id, reason: "cleared" }, admin);
      assert.equal(getListFromStatusListJWT(await (await fetchList(entry.uri)).text()).getStatus(entry.index), 0);
      const verification = await platform.client.verifyCredential({ credential: credential.encoded });
      assert.equal(verification.verified, true);
      assert.deepEqual(verification.credential?.claims, { email: "token-1@example.com" });
    });

    it("admits only admins to status changes, and refuses bad input", async () => {
      const credential = await issueEmail(bob, "status-authz");
      await rejectsWith(platform.client.revokeCredential({ credentialId: credential.id, reason: "mine" }, asBob), Code.PermissionDenied);
      await rejectsWith(platform.client.suspendCredential({ credentialId: credential.id, reason: "x" }, auth), Code.PermissionDenied);
      await rejectsWith(platform.client.revokeCredential({ credentialId: credential.id, reason: "" }, admin), Code.InvalidArgument, {
        field: "reason",
      });
      await rejectsWith(platform.client.reinstateCredential({ credentialId: "x", reason: "y" }, admin), Code.InvalidArgument, {
        field: "credential_id",
      });
      await rejectsWith(
        platform.client.suspendCredential({ credentialId: credential.id, reason: "tab\tand\u0000nul" }, admin),
        Code.InvalidArgument,
        {
          field: "reason",
        },
      );
      await rejectsWith(platform.client.revokeCredential({ credentialId: crypto.randomUUID(), reason: "y" }, admin), Code.NotFound);
      assert.equal(
        (await platform.client.getCredential({ credentialId: credential.id }, asBob)).credential?.status,
        CredentialStatus.ACTIVE,
      );
    });

    it("serves 404 for lists that do not exist, and the schemas and type metadata its credentials name", async () => {
      assert.equal((await fetch(`${platform.httpUrl}/status-lists/token/${crypto.randomUUID()}`)).status, 404);
      assert.equal((await fetch(`${platform.httpUrl}/status-lists/bitstring/${crypto.randomUUID()}/other`)).status, 404);
      const credential = await issueEmail(alice, "documents", CredentialFormat.VC_JWT);
      const payload = decodeJwt(credential.encoded) as { credentialSchema: { id: string } };
      const schema = (await (await fetch(payload.credentialSchema.id)).json()) as { $id: string; required: string[] };
      assert.equal(schema.$id, payload.credentialSchema.id);
      assert.deepEqual(schema.required, ["email"]);
      const sdJwt = await issueEmail(alice, "documents-2", CredentialFormat.SD_JWT_VC);
      const vct = String(decodeJwt(sdJwt.encoded.split("~")[0] ?? "").vct);
      const metadata = (await (await fetch(vct)).json()) as { vct: string };
      assert.equal(metadata.vct, vct);
      const didDocument = await fetch(`${platform.httpUrl}/.well-known/did.json`);
      assert.equal(didDocument.headers.get("content-type"), "application/did+json");
      assert.equal(didDocument.headers.get("access-control-allow-origin"), "*");
    });
  });

  describe("rotation and metrics (run last: they look at what came before)", () => {
    it("keeps verifying a credential issued before an issuer key rotation, and signs new ones with the new key", async () => {
      const before = await issueEmail(alice, "rotation-before", CredentialFormat.VC_JWT);
      const sdBefore = await issueEmail(alice, "rotation-before-sd", CredentialFormat.SD_JWT_VC);
      const { stdout } = await run(process.execPath, ["src/rotate-issuer-key.ts"], {
        cwd: new URL("..", import.meta.url).pathname,
        env: {
          ...process.env,
          DATABASE_URL: platform.databaseUrl,
          CREDENTIAL_KEK_RING: platform.keyEncryptionKeys.ring,
          CREDENTIAL_KEK_ACTIVE_ID: platform.keyEncryptionKeys.activeId,
        },
      });
      const newKid = stdout.trim();
      const after = await issueEmail(alice, "rotation-after", CredentialFormat.VC_JWT);
      assert.equal(after.issuerKeyId, `${issuerDid}#${newKid}`);
      assert.notEqual(after.issuerKeyId, before.issuerKeyId);
      for (const credential of [before, sdBefore, after]) {
        const verification = await platform.client.verifyCredential({ credential: credential.encoded });
        assert.equal(verification.verified, true, JSON.stringify(verification.checks));
      }
      const { didDocumentJson, documentMetadata } = await platform.client.resolveDid({ did: issuerDid });
      const methods = (JSON.parse(didDocumentJson).assertionMethod as string[]).sort();
      assert.ok(methods.includes(before.issuerKeyId) && methods.includes(after.issuerKeyId));
      assert.ok(documentMetadata?.updated, "updated: the rotation");
    });

    it("counts issuance by type and format, verifications by outcome and status changes, every label combination from zero", async () => {
      const metrics = await (await fetch(platform.metricsUrl)).text();
      const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? Number.NaN);
      assert.ok(value(/credential_issued_total\{type="verified_email",format="sd_jwt_vc"[^}]*\} (\d+)/) > 0);
      assert.equal(value(/credential_issued_total\{type="verified_phone",format="vc_jwt"[^}]*\} (\d+)/), 0, "pre-created at zero");
      assert.ok(value(/credential_verifications_total\{kind="credential",outcome="revoked"[^}]*\} (\d+)/) >= 1);
      assert.ok(value(/credential_verifications_total\{kind="credential",outcome="verified"[^}]*\} (\d+)/) >= 1);
      assert.ok(value(/credential_status_changes_total\{action="revoke"[^}]*\} (\d+)/) >= 2);
      assert.ok(value(/credential_status_changes_total\{action="reinstate"[^}]*\} (\d+)/) >= 1);
      assert.ok(value(/credential_dids_created_total\{custody="holder"[^}]*\} (\d+)/) >= 1);
    });
  });
});
