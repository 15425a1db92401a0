// Goal: ResolveContact tells payments whose a VERIFIED email or phone number is,
// and whether a user id names an account; an unverified or unknown address
// resolves to nobody, malformed input is INVALID_ARGUMENT naming the field, and
// only a payments service token scoped to ResolveContact may call it (a user
// token, another service's token and a payments token without the scope are refused).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { hashClientSecret } from "../src/service-clients.ts";
import {
  type AuthHarness,
  bearer,
  goodPassword,
  type Infrastructure,
  rejectsWith,
  relaxedLimits,
  signedInUser,
  startAuth,
  startInfrastructure,
  uniqueEmail,
} from "./support/auth-harness.ts";

const paymentsSecret = "payments-secret-for-resolve-contact-0123456789";
const faceSecret = "face-secret-for-resolve-contact-0123456789abcd";
const narrowSecret = "narrow-secret-for-resolve-contact-0123456789ab";

describe("auth: ResolveContact", function () {
  this.timeout(120_000);
  let infrastructure: Infrastructure;
  let auth: AuthHarness;
  let paymentsToken: string;

  before(async () => {
    infrastructure = await startInfrastructure();
    auth = await startAuth(infrastructure, {
      ...relaxedLimits,
      AUTH_SERVICE_CLIENTS: JSON.stringify({
        payments: { secretHash: await hashClientSecret(paymentsSecret), scopes: ["trustmesh.auth.v1.AuthService/ResolveContact"] },
        // A client the rule does not list, even though its scope names the method.
        face: { secretHash: await hashClientSecret(faceSecret), scopes: ["trustmesh.auth.v1.AuthService/*"] },
      }),
    });
    paymentsToken = (await auth.client.issueServiceToken({ clientId: "payments", clientSecret: paymentsSecret, audience: "auth" }))
      .accessToken;
  });

  after(async () => {
    await auth?.stop();
    await infrastructure?.stop();
  });

  const resolve = (contact: Parameters<AuthHarness["client"]["resolveContact"]>[0]["contact"], token = paymentsToken) =>
    auth.client.resolveContact({ contact }, bearer(token));

  it("resolves a verified email (any case) and phone number, and an existing user id", async () => {
    const { email, tokens } = await signedInUser(auth);
    const me = await auth.client.getMe({}, bearer(tokens.accessToken));
    const userId = me.user?.id as string;
    const byEmail = await resolve({ case: "email", value: email.toUpperCase() });
    assert.deepEqual([byEmail.found, byEmail.userId], [true, userId]);
    const byId = await resolve({ case: "userId", value: userId });
    assert.deepEqual([byId.found, byId.userId], [true, userId]);

    const phoneNumber = "+4915112340001";
    await auth.client.signUp({ phoneNumber, password: goodPassword, idempotencyKey: "resolve-phone" });
    assert.deepEqual((await resolve({ case: "phone", value: phoneNumber })).found, false, "unverified phone must not resolve");
    await auth.client.completePhoneVerification({ phoneNumber, code: await auth.codeFor(phoneNumber) });
    const byPhone = await resolve({ case: "phone", value: phoneNumber });
    assert.equal(byPhone.found, true);
    const owner = (await auth.database.query("SELECT id FROM user_account WHERE phone_number = $1", [phoneNumber])).rows[0];
    assert.equal(byPhone.userId, owner.id);
  });

  it("resolves nobody for an unverified email, an unknown email or phone, and an unknown user id", async () => {
    const email = uniqueEmail("unverified");
    await auth.client.signUp({ email, password: goodPassword, idempotencyKey: `k-${email.replace("@", ".")}` });
    for (const contact of [
      { case: "email", value: email },
      { case: "email", value: uniqueEmail("nobody") },
      { case: "phone", value: "+4915112349999" },
      { case: "userId", value: randomUUID() },
    ] as const) {
      const answer = await resolve(contact);
      assert.deepEqual([answer.found, answer.userId], [false, ""], JSON.stringify(contact));
    }
  });

  it("refuses malformed input with INVALID_ARGUMENT naming the field", async () => {
    for (const [contact, field] of [
      [{ case: "email", value: "not-an-email" }, "email"],
      [{ case: "phone", value: "12345" }, "phone"],
      [{ case: "phone", value: "+99912345678" }, "phone"],
      [{ case: "userId", value: "not-a-uuid" }, "user_id"],
      [{ case: undefined }, "contact"],
    ] as const) {
      const error = await rejectsWith(resolve(contact), Code.InvalidArgument);
      assert.match(error.message, new RegExp(field), JSON.stringify(contact));
    }
  });

  it("refuses a user token, no token, another service's token, and a payments token outside its scope", async () => {
    const { email, tokens } = await signedInUser(auth);
    const contact = { case: "email", value: email } as const;
    await rejectsWith(resolve(contact, tokens.accessToken), Code.PermissionDenied);
    await rejectsWith(auth.client.resolveContact({ contact }), Code.Unauthenticated);
    const faceToken = (await auth.client.issueServiceToken({ clientId: "face", clientSecret: faceSecret, audience: "auth" })).accessToken;
    await rejectsWith(resolve(contact, faceToken), Code.PermissionDenied);
    // The payments client of an auth configured without ResolveContact in its scopes gets no token for auth at all.
    const narrow = await startAuth(infrastructure, {
      ...relaxedLimits,
      AUTH_SERVICE_CLIENTS: JSON.stringify({
        payments: { secretHash: await hashClientSecret(narrowSecret), scopes: ["trustmesh.auth.v1.AuthService/GetJwks"] },
      }),
    });
    try {
      const narrowToken = (await narrow.client.issueServiceToken({ clientId: "payments", clientSecret: narrowSecret, audience: "auth" }))
        .accessToken;
      await rejectsWith(narrow.client.resolveContact({ contact }, bearer(narrowToken)), Code.PermissionDenied);
    } finally {
      await narrow.stop();
    }
  });
});
