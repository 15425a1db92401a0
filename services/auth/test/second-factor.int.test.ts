// Goal: Login and CompleteMfa follow the SecondFactors seam: an account with
// a factor gets an MFA challenge instead of tokens; CompleteMfa checks the
// answer through the interface, refuses wrong answers and, after the limit,
// the challenge itself; the first right answer finishes the sign-in with both
// methods in `amr`, and the mfa_token cannot be used again. The factor here is
// a small in-test SecondFactors (this test is about the sign-in flow, not
// about TOTP or passkeys, which live in the MFA modules); everything else —
// the service, Postgres, Redis, the network — is real.
import assert from "node:assert/strict";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@trustmesh/api";
import { AuthenticationMethod, MfaMethod } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { type RunningService, startService } from "@trustmesh/runtime";
import { type PostgresServer, type RedisServer, randomKeyEncryptionKeys, startPostgres, startRedis } from "@trustmesh/testkit";
import { Redis } from "ioredis";
import { decodeJwt } from "jose";
import { createAuthDefinition } from "../src/routes.ts";
import type { SecondFactors } from "../src/second-factor.ts";
import { bearer, goodPassword, rejectsWith, uniqueEmail } from "./support/auth-harness.ts";

/** Accepts the TOTP code "246810" for users in `enrolled`, each code once per challenge. */
function createTestFactors(enrolled: Set<string>): SecondFactors & { challenges: string[] } {
  const challenges: string[] = [];
  return {
    challenges,
    methodsFor: async (userId) => (enrolled.has(userId) ? [MfaMethod.TOTP, MfaMethod.RECOVERY_CODE] : []),
    beginChallenge: async (_userId, _methods, challengeId) => {
      challenges.push(challengeId);
      return { passkeyOptionsJson: "" };
    },
    verify: async (userId, proof) =>
      enrolled.has(userId) && proof.case === "totpCode" && proof.value === "246810"
        ? { ok: true, method: MfaMethod.TOTP, authenticationMethod: AuthenticationMethod.TOTP }
        : { ok: false },
    summary: async (userId) => ({
      $typeName: "trustmesh.auth.v1.MfaSummary",
      totpEnabled: enrolled.has(userId),
      recoveryCodesRemaining: 10,
      passkeyCount: 0,
    }),
    passkeys: async () => [],
  };
}

describe("auth: second factor at sign-in", function () {
  this.timeout(60_000);
  let postgres: PostgresServer;
  let redisServer: RedisServer;
  let service: RunningService;
  let redis: Redis;
  const enrolled = new Set<string>();
  const factors = createTestFactors(enrolled);

  before(async () => {
    [postgres, redisServer] = await Promise.all([startPostgres(), startRedis()]);
    const keys = randomKeyEncryptionKeys();
    service = await startService(createAuthDefinition({ secondFactors: () => factors }), {
      HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "silent",
      DATABASE_URL: await postgres.createDatabase("auth_mfa"),
      REDIS_URL: redisServer.url,
      AUTH_GRPC_URL: "http://127.0.0.1:1",
      AUTH_KEK_RING: keys.ring,
      AUTH_KEK_ACTIVE_ID: keys.activeId,
      AUTH_MFA_ATTEMPTS_MAX: "3",
    });
    redis = new Redis(redisServer.url);
  });

  after(async () => {
    redis?.disconnect();
    await service?.stop();
    await Promise.all([redisServer?.stop(), postgres?.stop()]);
  });

  const client = () => createClient(AuthService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.server.grpcPort}` }));

  async function verifiedUser() {
    const email = uniqueEmail("mfa");
    await client().signUp({ email, password: goodPassword, idempotencyKey: `mfa-${Date.now()}` });
    for (let attempt = 0; attempt < 100; attempt++) {
      const message = (await redis.lrange("dev-outbox", 0, -1)).map((text) => JSON.parse(text)).find((entry) => entry.to === email);
      if (message) {
        await client().completeEmailVerification({ email, code: message.code });
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const login = await client().login({ identifier: { case: "email", value: email }, password: goodPassword });
    assert.equal(login.result.case, "tokens");
    return { email, userId: decodeJwt(login.result.value.accessToken).sub as string };
  }

  it("answers Login with a challenge and finishes it with a right answer, once", async () => {
    const { email, userId } = await verifiedUser();
    enrolled.add(userId);
    const login = await client().login({ identifier: { case: "email", value: email }, password: goodPassword, deviceName: "phone" });
    assert.equal(login.result.case, "mfaChallenge");
    const challenge = login.result.value;
    assert.deepEqual(challenge.methods, [MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);
    assert.ok(Number(challenge.expiresAt?.seconds) > Date.now() / 1000);
    assert.equal(factors.challenges.length, 1);
    assert.ok(!factors.challenges[0]?.includes(challenge.mfaToken), "the factors see a challenge id, never the token");

    await rejectsWith(
      client().completeMfa({ mfaToken: challenge.mfaToken, proof: { case: "totpCode", value: "111111" } }),
      Code.Unauthenticated,
      "MFA_FAILED",
    );
    const done = await client().completeMfa({ mfaToken: challenge.mfaToken, proof: { case: "totpCode", value: "246810" } });
    assert.ok(done.tokens);
    assert.deepEqual(decodeJwt(done.tokens.accessToken).amr, ["pwd", "otp", "mfa"]);
    const me = await client().getMe({}, bearer(done.tokens.accessToken));
    assert.equal(me.user?.mfa?.totpEnabled, true);
    assert.deepEqual(me.session?.authenticationMethods, [AuthenticationMethod.PASSWORD, AuthenticationMethod.TOTP]);
    assert.equal(me.session?.device?.name, "phone");
    await rejectsWith(
      client().completeMfa({ mfaToken: challenge.mfaToken, proof: { case: "totpCode", value: "246810" } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );
  });

  it("voids the challenge after the configured number of wrong answers; refuses malformed requests", async () => {
    const { email, userId } = await verifiedUser();
    enrolled.add(userId);
    const login = await client().login({ identifier: { case: "email", value: email }, password: goodPassword });
    assert.equal(login.result.case, "mfaChallenge");
    const mfaToken = login.result.value.mfaToken;
    for (let attempt = 0; attempt < 3; attempt++) {
      await rejectsWith(
        client().completeMfa({ mfaToken, proof: { case: "totpCode", value: "000000" } }),
        Code.Unauthenticated,
        "MFA_FAILED",
      );
    }
    await rejectsWith(
      client().completeMfa({ mfaToken, proof: { case: "totpCode", value: "246810" } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );
    await rejectsWith(
      client().completeMfa({ mfaToken: "x".repeat(43), proof: { case: "totpCode", value: "246810" } }),
      Code.Unauthenticated,
      "MFA_TOKEN_INVALID",
    );
    await rejectsWith(client().completeMfa({ mfaToken, proof: { case: undefined } }), Code.InvalidArgument);
    await rejectsWith(client().completeMfa({ mfaToken: "short", proof: { case: "totpCode", value: "246810" } }), Code.InvalidArgument);
  });
});
