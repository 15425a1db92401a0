// Goal (issue #7's acceptance test across auth and credential): a person signs
// up with auth and proves an email address and a phone number with the codes
// auth sends; with no other call, a verified-email and a verified-phone
// credential appear for them at credential, handed over by auth's outbox
// worker. The email credential verifies; the holder may not revoke it, an admin
// does, and it then fails verification with reason `revoked`. A restarted auth
// that delivers the same events again (as after a crash between credential's
// answer and auth recording it) still leaves exactly one credential per contact.
//
// Everything is real: Postgres, Redis, and the auth and credential processes,
// called over the network. Two steps have no RPC and touch auth's database
// directly, as an operator would: making a second account an admin, and
// forgetting that two events were delivered, as a crash at the wrong moment would.
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService, CredentialService } from "@trustmesh/api";
import { ContactVerifiedSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import {
  type Credential,
  CredentialStatus,
  CredentialType,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { type PostgresServer, type RedisServer, type RunningServices, startPostgres, startRedis, startServices } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import pg from "pg";

/** How long a test waits for something auth does in the background (a message, a delivery). */
const backgroundWaitMs = 30_000;

async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const giveUpAt = Date.now() + backgroundWaitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > giveUpAt) throw new Error(`${what} did not happen within ${backgroundWaitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const password = "correct horse battery staple";

describe("a contact verified at auth becomes a credential at credential", function () {
  this.timeout(180_000);
  let postgres: PostgresServer;
  let redisServer: RedisServer;
  let platform: RunningServices;
  let auth: Client<typeof AuthService>;
  let credential: Client<typeof CredentialService>;
  /** auth's logical Redis database, where its development outbox lives. */
  let authRedis: Redis;
  let authDatabase: pg.Pool;

  before(async () => {
    [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
    const databaseUrls: Record<string, string> = {};
    // No AUTH_CREDENTIAL_GRPC_URL here: startServices wires auth to the credential it starts.
    platform = await startServices({
      names: ["auth", "credential"],
      databaseUrlFor: async (name) => {
        databaseUrls[name] = await postgres.createDatabase(`trustmesh_${name}`);
        return databaseUrls[name] as string;
      },
      redisUrl: redisServer.url,
      env: { LOG_LEVEL: "warn" },
    });
    const { auth: authAddress, credential: credentialAddress } = platform.services;
    assert.ok(authAddress && credentialAddress);
    auth = createClient(AuthService, createGrpcTransport({ baseUrl: authAddress.grpcUrl }));
    credential = createClient(CredentialService, createGrpcTransport({ baseUrl: credentialAddress.grpcUrl }));
    // startServices gives auth logical Redis database 0.
    authRedis = new Redis(`${redisServer.url.replace(/\/\d*$/, "")}/0`);
    authDatabase = new pg.Pool({ connectionString: databaseUrls.auth, max: 2 });
  });

  after(async () => {
    authRedis?.disconnect();
    await authDatabase?.end();
    await platform?.stop();
    await Promise.all([redisServer?.stop(), postgres?.stop()]);
  });

  /** The newest code auth's development outbox holds for this address or number. */
  const codeFor = (to: string) =>
    eventually(`a code for ${to} in auth's development outbox`, async () => {
      const messages = (await authRedis.lrange("dev-outbox", 0, -1)).map((text) => JSON.parse(text) as { to: string; code?: string });
      return messages.find((message) => message.to === to && message.code)?.code;
    });

  /** Signs up with these contacts, enters the code sent to each, and signs in. */
  async function verifiedUser(contacts: { email: string; phoneNumber?: string }) {
    await auth.signUp({ ...contacts, password, idempotencyKey: `sign-up-${crypto.randomUUID()}` });
    await auth.completeEmailVerification({ email: contacts.email, code: await codeFor(contacts.email) });
    if (contacts.phoneNumber) {
      await auth.completePhoneVerification({ phoneNumber: contacts.phoneNumber, code: await codeFor(contacts.phoneNumber) });
    }
    const login = await auth.login({ identifier: { case: "email", value: contacts.email }, password, deviceName: "e2e" });
    assert.equal(login.result.case, "tokens");
    const me = await auth.getMe({}, bearer(login.result.value.accessToken));
    assert.ok(me.user);
    return { userId: me.user.id, accessToken: login.result.value.accessToken };
  }

  /** Every credential the user holds, read as that user. */
  async function credentialsOf(accessToken: string): Promise<Credential[]> {
    const { credentials, nextPageToken } = await credential.listCredentials({ pageSize: 100 }, bearer(accessToken));
    assert.equal(nextPageToken, "", "a handful of credentials fit on one page");
    return credentials;
  }

  /** auth's ContactVerified outbox rows for this user, oldest first. */
  async function contactVerifiedEventsOf(userId: string) {
    const { rows } = await authDatabase.query<{ id: string; payload: Buffer; processed_at: Date | null; attempts: number }>(
      "SELECT id, payload, processed_at, attempts FROM outbox_event WHERE topic = 'contact.verified' ORDER BY id",
    );
    return rows.filter((row) => fromBinary(ContactVerifiedSchema, row.payload).userId === userId);
  }

  it("issues a verified-email and a verified-phone credential with no call but auth's; revoked by an admin, the email one fails as revoked", async () => {
    const email = `ada-${Date.now()}@example.com`;
    const phoneNumber = "+4915112345678";
    const user = await verifiedUser({ email, phoneNumber });

    // Nothing but auth was called: the credentials arrive through auth's outbox worker.
    const credentials = await eventually("a verified-email and a verified-phone credential for the user", async () => {
      const found = await credentialsOf(user.accessToken);
      return found.length >= 2 && found;
    });
    const byType = (type: CredentialType) => credentials.filter((candidate) => candidate.type === type);
    assert.equal(credentials.length, 2, "one credential per verified contact");
    const [emailCredential] = byType(CredentialType.VERIFIED_EMAIL);
    const [phoneCredential] = byType(CredentialType.VERIFIED_PHONE);
    assert.ok(emailCredential && phoneCredential, `types: ${credentials.map((found) => CredentialType[found.type])}`);
    for (const issued of [emailCredential, phoneCredential]) {
      assert.equal(issued.userId, user.userId);
      assert.equal(issued.status, CredentialStatus.ACTIVE);
    }
    assert.equal(emailCredential.claims?.email, email);
    assert.equal(phoneCredential.claims?.phone_number, phoneNumber);
    assert.equal(emailCredential.holderDid, phoneCredential.holderDid, "both on the user's one primary DID");
    assert.match(emailCredential.holderDid, /^did:key:z6Mk/);

    // Anyone may verify; both pass every check.
    for (const issued of [emailCredential, phoneCredential]) {
      const verified = await credential.verifyCredential({ credential: issued.encoded });
      assert.equal(verified.verified, true, JSON.stringify(verified.checks));
      assert.equal(verified.failure, VerificationFailure.UNSPECIFIED);
    }

    // Only an admin may revoke (RevokeCredential's rule): the holder is refused and nothing changes.
    const revoke = { credentialId: emailCredential.id, reason: "the address changed hands" };
    await assert.rejects(credential.revokeCredential(revoke, bearer(user.accessToken)), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(Code[error.code], Code[Code.PermissionDenied], error.message);
      return true;
    });
    assert.equal((await credential.verifyCredential({ credential: emailCredential.encoded })).verified, true);

    // An admin is an account whose roles include admin; no RPC grants the role, an operator does.
    const adminEmail = `admin-${Date.now()}@example.com`;
    await auth.signUp({ email: adminEmail, password, idempotencyKey: `sign-up-${crypto.randomUUID()}` });
    await auth.completeEmailVerification({ email: adminEmail, code: await codeFor(adminEmail) });
    await authDatabase.query("UPDATE user_account SET roles = '{admin}' WHERE email = $1", [adminEmail]);
    const adminLogin = await auth.login({ identifier: { case: "email", value: adminEmail }, password, deviceName: "e2e" });
    assert.equal(adminLogin.result.case, "tokens");
    const revoked = await credential.revokeCredential(revoke, bearer(adminLogin.result.value.accessToken));
    assert.equal(revoked.credential?.status, CredentialStatus.REVOKED);

    const afterRevocation = await credential.verifyCredential({ credential: emailCredential.encoded });
    assert.equal(afterRevocation.verified, false);
    assert.equal(afterRevocation.failure, VerificationFailure.REVOKED);
    assert.equal(VerificationFailure[afterRevocation.failure].toLowerCase(), "revoked");
    assert.equal((await credential.verifyCredential({ credential: phoneCredential.encoded })).verified, true, "the phone one is untouched");

    // auth restarts believing neither event was delivered: it delivers both again.
    const events = await contactVerifiedEventsOf(user.userId);
    assert.equal(events.length, 2, "one ContactVerified event per verified contact");
    assert.ok(
      events.every((event) => event.processed_at !== null && event.attempts === 1),
      "each delivered once so far",
    );
    await authDatabase.query("UPDATE outbox_event SET processed_at = NULL, available_at = now() WHERE id = ANY($1::bigint[])", [
      events.map((event) => event.id),
    ]);
    await platform.restart("auth");
    await eventually("both events delivered again by the restarted auth", async () => {
      const again = await contactVerifiedEventsOf(user.userId);
      return again.every((event) => event.processed_at !== null && event.attempts === 2);
    });

    // The user's access token outlives auth's restart (its key is in auth's database).
    const afterRestart = await credentialsOf(user.accessToken);
    assert.deepEqual(afterRestart.map((found) => found.id).sort(), [emailCredential.id, phoneCredential.id].sort(), "no second credential");
    assert.equal(afterRestart.find((found) => found.id === emailCredential.id)?.status, CredentialStatus.REVOKED, "still revoked");
    assert.equal(afterRestart.find((found) => found.id === phoneCredential.id)?.status, CredentialStatus.ACTIVE);
  });
});
