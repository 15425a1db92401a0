// Goal (issue #7's first acceptance test): a user verifies an email address
// through auth, and a credential for it appears for that user without any
// other call; it verifies; revoked, it fails verification with reason revoked.
//
// auth's verification RPCs are not on this branch yet, so the test plays auth's
// outbox worker exactly as it will run: on a ContactVerified event it calls
// CredentialService.IssueCredential over gRPC with the runtime's service client
// and a service token (sub "auth", aud "credential") signed by auth's real key,
// the event id as the idempotency key, the user id, the verified address and
// when it was verified, and no holder DID and no format. Delivery is at least
// once, so the event arrives twice, and twice more at the same moment: the user
// still gets exactly one credential, on a DID made for them on the way.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { CredentialService } from "@trustmesh/api";
import {
  CredentialFormat,
  CredentialStatus,
  CredentialType,
  VerificationFailure,
} from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { createServiceClient } from "@trustmesh/runtime";
import { rejectsWith } from "./support/expect.ts";
import { bearer, type CredentialPlatform, startCredentialPlatform } from "./support/platform.ts";

describe("auth's ContactVerified events become credentials", function () {
  this.timeout(120_000);
  let platform: CredentialPlatform;

  before(async () => {
    platform = await startCredentialPlatform();
  });

  after(async () => {
    await platform?.stop();
  });

  /** auth's outbox worker: one IssueCredential call per ContactVerified event. */
  function outboxWorker() {
    const client = createServiceClient(CredentialService, { baseUrl: platform.grpcUrl, serviceToken: () => platform.serviceToken("auth") });
    return {
      deliverEmailVerified: (event: { id: string; userId: string; email: string; verifiedAt: Date }) =>
        client.issueCredential({
          idempotencyKey: `contact-verified:${event.id}`,
          userId: event.userId,
          claims: {
            case: "email",
            value: { email: event.email, verifiedAt: { seconds: BigInt(Math.floor(event.verifiedAt.getTime() / 1000)), nanos: 0 } },
          },
        }),
      deliverPhoneVerified: (event: { id: string; userId: string; phoneNumber: string; verifiedAt: Date }) =>
        client.issueCredential({
          idempotencyKey: `contact-verified:${event.id}`,
          userId: event.userId,
          claims: {
            case: "phone",
            value: {
              phoneNumber: event.phoneNumber,
              verifiedAt: { seconds: BigInt(Math.floor(event.verifiedAt.getTime() / 1000)), nanos: 0 },
            },
          },
        }),
    };
  }

  it("issues one credential per verified email, delivered any number of times; it verifies, and fails as revoked once revoked", async () => {
    const userId = crypto.randomUUID();
    const asUser = bearer(await platform.userToken(userId));
    const event = { id: crypto.randomUUID(), userId, email: "ada@example.com", verifiedAt: new Date(Date.now() - 1000) };
    const worker = outboxWorker();

    const first = await worker.deliverEmailVerified(event);
    const redelivered = await worker.deliverEmailVerified(event);
    const concurrent = await Promise.all([worker.deliverEmailVerified(event), worker.deliverEmailVerified(event)]);
    for (const delivery of [redelivered, ...concurrent]) assert.equal(delivery.credential?.id, first.credential?.id);

    // The user finds it without having called anything before.
    const { credentials } = await platform.client.listCredentials({}, asUser);
    assert.equal(credentials.length, 1);
    const [credential] = credentials;
    assert.ok(credential);
    assert.equal(credential.id, first.credential?.id);
    assert.equal(credential.type, CredentialType.VERIFIED_EMAIL);
    assert.equal(credential.format, CredentialFormat.SD_JWT_VC, "the service's configured default");
    assert.equal(credential.claims?.email, "ada@example.com");
    assert.equal(credential.claims?.verified_at, new Date(Math.floor(event.verifiedAt.getTime() / 1000) * 1000).toISOString());
    assert.match(credential.holderDid, /^did:key:z6Mk/, "a DID was made for the user on the way");

    const verified = await platform.client.verifyCredential({ credential: credential.encoded });
    assert.equal(verified.verified, true, JSON.stringify(verified.checks));

    const admin = bearer(await platform.userToken(crypto.randomUUID(), ["admin"]));
    await platform.client.revokeCredential({ credentialId: credential.id, reason: "address no longer controlled" }, admin);
    const revoked = await platform.client.verifyCredential({ credential: credential.encoded });
    assert.equal(revoked.verified, false);
    assert.equal(revoked.failure, VerificationFailure.REVOKED);
    assert.equal(VerificationFailure[revoked.failure].toLowerCase(), "revoked");
    // Delivered once more after the revocation, the event still names the same, now revoked, credential.
    assert.equal((await worker.deliverEmailVerified(event)).credential?.status, CredentialStatus.REVOKED);
  });

  it("puts a later verified phone on the same DID, and refuses another body under a used event id", async () => {
    const userId = crypto.randomUUID();
    const worker = outboxWorker();
    const email = await worker.deliverEmailVerified({ id: "evt-email", userId, email: "grace@example.com", verifiedAt: new Date() });
    const phone = await worker.deliverPhoneVerified({ id: "evt-phone", userId, phoneNumber: "+14155550123", verifiedAt: new Date() });
    assert.equal(phone.credential?.type, CredentialType.VERIFIED_PHONE);
    assert.equal(phone.credential?.holderDid, email.credential?.holderDid);
    await rejectsWith(
      worker.deliverEmailVerified({ id: "evt-email", userId, email: "someone-else@example.com", verifiedAt: new Date() }),
      Code.AlreadyExists,
      { reason: "IDEMPOTENCY_KEY_REUSED" },
    );
    const { credentials } = await platform.client.listCredentials({}, bearer(await platform.userToken(userId)));
    assert.equal(credentials.length, 2);
  });
});
