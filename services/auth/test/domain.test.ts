// Goal: the pure pieces behave: the password policy names the field and the
// rule; common passwords are refused case-insensitively; phone numbers are
// validated by the library, not just by shape; the client's address comes
// from X-Forwarded-For only through trusted proxies; amr values follow RFC
// 8176; service-client scopes are narrowed to the audience; outbox retries
// wait longer each time up to a cap; a ContactVerified event becomes the
// IssueCredential request credential expects.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { AuthenticationMethod, ContactKind, ContactVerifiedSchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { DomainError, peerAddressKey } from "@trustmesh/runtime";
import { clientInfoOf, parseTrustedProxies } from "../src/client-address.ts";
import { normalizePhoneNumber } from "../src/contacts.ts";
import { issueCredentialRequestFor } from "../src/credential-delivery.ts";
import { retryDelayMs } from "../src/outbox-worker.ts";
import { checkPasswordPolicy, isCommonPassword } from "../src/passwords.ts";
import { scopesFor } from "../src/service-clients.ts";
import { amrOf } from "../src/tokens.ts";

function reasonOf(action: () => void): string | undefined {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof DomainError);
    return `${error.violations[0]?.field}:${error.reason}`;
  }
  return undefined;
}

function contextFrom(peer: string, headers: Record<string, string>): HandlerContext {
  return {
    values: createContextValues().set(peerAddressKey, () => peer),
    requestHeader: new Headers(headers),
  } as unknown as HandlerContext;
}

describe("auth domain", () => {
  it("checks the password policy in order: length, the contact, common passwords", () => {
    assert.equal(
      reasonOf(() => checkPasswordPolicy("password", "short pw", [], 10)),
      "password:PASSWORD_TOO_SHORT",
    );
    assert.equal(
      reasonOf(() => checkPasswordPolicy("password", "Alice.Smith@example.com", ["alice.smith@example.com"], 10)),
      "password:PASSWORD_IS_CONTACT",
    );
    assert.equal(
      reasonOf(() => checkPasswordPolicy("new_password", "alicesmith", ["alicesmith@example.com"], 10)),
      "new_password:PASSWORD_IS_CONTACT",
    );
    assert.equal(
      reasonOf(() => checkPasswordPolicy("password", "4915112345678", ["+4915112345678"], 10)),
      "password:PASSWORD_IS_CONTACT",
    );
    assert.equal(
      reasonOf(() => checkPasswordPolicy("password", "QWERTYUIOP", [], 10)),
      "password:PASSWORD_TOO_COMMON",
    );
    assert.equal(
      reasonOf(() => checkPasswordPolicy("password", "correct horse battery staple", ["a@example.com"], 10)),
      undefined,
    );
    assert.ok(isCommonPassword("Password") && !isCommonPassword("correct horse battery staple"));
  });

  it("accepts real phone numbers in E.164 and refuses well-shaped impossible ones", () => {
    assert.equal(normalizePhoneNumber("phone_number", "+4915112345678"), "+4915112345678");
    assert.equal(normalizePhoneNumber("phone_number", "+14155550123"), "+14155550123");
    assert.equal(
      reasonOf(() => normalizePhoneNumber("phone_number", "+99912345678")),
      "phone_number:INVALID_PHONE_NUMBER",
    );
    assert.equal(
      reasonOf(() => normalizePhoneNumber("phone_number", "+491")),
      "phone_number:INVALID_PHONE_NUMBER",
    );
  });

  it("believes X-Forwarded-For only from trusted proxies, taking the first untrusted hop from the right", () => {
    const trusted = parseTrustedProxies("10.0.0.0/8, 192.168.1.1");
    assert.equal(clientInfoOf(contextFrom("203.0.113.9", { "x-forwarded-for": "1.2.3.4" }), trusted).ipAddress, "203.0.113.9");
    assert.equal(
      clientInfoOf(contextFrom("10.1.2.3", { "x-forwarded-for": "198.51.100.7, 192.168.1.1" }), trusted).ipAddress,
      "198.51.100.7",
    );
    assert.equal(
      clientInfoOf(contextFrom("::ffff:10.1.2.3", { "x-forwarded-for": "6.6.6.6, 198.51.100.7" }), trusted).ipAddress,
      "198.51.100.7",
    );
    const agent = clientInfoOf(contextFrom("127.0.0.1", { "user-agent": "x".repeat(600) }), trusted).userAgent;
    assert.equal(agent.length, 512);
    assert.throws(() => parseTrustedProxies("not-an-address"), /AUTH_TRUSTED_PROXIES/);
  });

  it("writes amr per RFC 8176, adding mfa for two factors", () => {
    assert.deepEqual(amrOf([AuthenticationMethod.PASSWORD]), ["pwd"]);
    assert.deepEqual(amrOf([AuthenticationMethod.PASSWORD, AuthenticationMethod.TOTP]), ["pwd", "otp", "mfa"]);
    assert.deepEqual(amrOf([AuthenticationMethod.PASSKEY]), ["hwk", "user", "mfa"]);
  });

  it("narrows a client's scopes to the audience service", () => {
    const clients = {
      payments: { secretHash: "$argon2id$x", scopes: ["trustmesh.ledger.v1.LedgerService/*", "trustmesh.face.v1.FaceService/EnrollFace"] },
    };
    assert.deepEqual(scopesFor(clients, "payments", "ledger"), ["trustmesh.ledger.v1.LedgerService/*"]);
    assert.deepEqual(scopesFor(clients, "payments", "auth"), []);
    assert.deepEqual(scopesFor(clients, "constructor", "ledger"), []);
  });

  it("waits longer before each outbox retry, doubling from the base up to the cap, within the upper half of each step", () => {
    const bounds = (attempts: number) => [retryDelayMs(attempts, 1000, 300_000, () => 0), retryDelayMs(attempts, 1000, 300_000, () => 1)];
    assert.deepEqual(bounds(1), [500, 1000]);
    assert.deepEqual(bounds(2), [1000, 2000]);
    assert.deepEqual(bounds(5), [8000, 16_000]);
    assert.deepEqual(bounds(9), [128_000, 256_000]);
    assert.deepEqual(bounds(10), [150_000, 300_000], "capped");
    assert.deepEqual(bounds(10_000), [150_000, 300_000], "no overflow however many attempts");
  });

  it("turns a ContactVerified event into the IssueCredential request: event id as key, the contact as claims", () => {
    const verifiedAt = timestampFromMs(1_800_000_000_000);
    const common = { eventId: "2c1d1a7e-5b8e-4a38-9b5e-3f0b1c2d3e4f", userId: "0d3f6a52-8a7c-4e51-9b0e-1f2a3b4c5d6e", verifiedAt };
    const email = issueCredentialRequestFor(
      create(ContactVerifiedSchema, { ...common, kind: ContactKind.EMAIL, contact: "a@example.com" }),
    );
    assert.deepEqual(email, {
      idempotencyKey: common.eventId,
      userId: common.userId,
      claims: { case: "email", value: { email: "a@example.com", verifiedAt } },
    });
    const phone = issueCredentialRequestFor(create(ContactVerifiedSchema, { ...common, kind: ContactKind.PHONE, contact: "+14155552671" }));
    assert.deepEqual(phone.claims, { case: "phone", value: { phoneNumber: "+14155552671", verifiedAt } });
    assert.throws(() => issueCredentialRequestFor(create(ContactVerifiedSchema, common)), /no contact kind/);
  });
});
