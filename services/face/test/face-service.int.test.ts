// Goal: FaceService as callers meet it — the real face process (real model,
// real Postgres) beside the real auth process, called over the network with
// tokens signed by auth's key. Every RPC answers good input correctly and bad
// input with the right code and a message naming the field, changing nothing;
// a user cannot enrol, validate, read or erase for another user, while admins
// and the registration service can where the contract says so; the same person
// matches, other people and group or empty photos do not; records carry the
// caller's address and expire; the sweeper removes expired ones; /metrics
// counts what happened.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { BadRequestSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { CaptureSource, FaceQuality, Gender, ValidationFailureReason, ValidationStatus } from "@trustmesh/api/trustmesh/face/v1/face_pb.js";
import { FaceService } from "@trustmesh/api/trustmesh/face/v1/face_service_pb.js";
import { ConfigError, type RunningService, startService } from "@trustmesh/runtime";
import {
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  type ServiceAddresses,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { createGrpcJsClient, type GrpcJsError, grpcJsUnary } from "@trustmesh/testkit/grpc-js";
import pg from "pg";
import { faceDefinition } from "../src/routes.ts";
import { groupPhoto, photoWithoutFace, portrait } from "./support/sample-faces.ts";
import { createTokenMinter, type TokenMinter } from "./support/tokens.ts";

const threshold = 80;

function rejectsWith(code: Code, message?: RegExp, field?: string) {
  return (error: ConnectError) => {
    assert.equal(error.code, code, `${Code[error.code]}: ${error.message}`);
    if (message) assert.match(error.message, message);
    if (field)
      assert.ok(
        error.findDetails(BadRequestSchema)[0]?.fieldViolations.some((violation) => violation.field === field),
        error.message,
      );
    return true;
  };
}

describe("FaceService over the network", function () {
  this.timeout(300_000);
  let postgres: PostgresServer;
  let redis: RedisServer;
  let platform: RunningServices;
  let face: ServiceAddresses;
  let faceDatabase: pg.Pool;
  let tokens: TokenMinter;
  const keys = randomKeyEncryptionKeys();
  const databases = new Map<string, string>();

  const alice = randomUUID();
  const bob = randomUUID();
  const carol = randomUUID();
  const admin = randomUUID();
  const client = () => createClient(FaceService, createGrpcTransport({ baseUrl: face.grpcUrl }));
  const as = async (token: Promise<string>) => ({ headers: { authorization: `Bearer ${await token}` } });
  const asUser = (userId: string) => as(tokens.user(userId));
  const asAdmin = () => as(tokens.user(admin, ["admin"]));
  const asService = (name: string) => as(tokens.service(name));

  const validation = async (
    userId: string,
    registrationId: string,
    image: Uint8Array,
    extra: { clientIp?: string; source?: CaptureSource; eventId?: string } = {},
  ) => ({
    userId,
    registrationId,
    eventId: "event-berlin-2026",
    image,
    source: CaptureSource.MOBILE_APP,
    idempotencyKey: randomUUID(),
    ...extra,
  });

  const referenceIdOf = async (userId: string) =>
    (await faceDatabase.query<{ reference_id: string }>("SELECT reference_id FROM face_reference WHERE user_id = $1", [userId])).rows[0]
      ?.reference_id;

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    platform = await startServices({
      names: ["auth", "face"],
      databaseUrlFor: async (name) => {
        const url = await postgres.createDatabase(`face_rpc_${name}`);
        databases.set(name, url);
        return url;
      },
      redisUrl: redis.url,
      keyEncryptionKeys: keys,
      env: { LOG_LEVEL: "warn", FACE_INFERENCE_WORKERS: "1", FACE_SWEEP_INTERVAL_MS: "300" },
      readyTimeoutMs: 180_000,
    });
    face = platform.services.face as ServiceAddresses;
    tokens = await createTokenMinter(databases.get("auth") as string, keys);
    faceDatabase = new pg.Pool({ connectionString: databases.get("face"), max: 2 });
    faceDatabase.on("error", () => {});
  });

  after(async () => {
    await faceDatabase?.end();
    await platform?.stop();
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  describe("EnrollFace", () => {
    it("enrols one good face as the user's reference, sealed at rest, and replaces it on re-enrolment", async () => {
      const first = await client().enrollFace(
        { userId: alice, image: await portrait("ada"), biometricConsent: true, idempotencyKey: "enrol-alice-1" },
        await asUser(alice),
      );
      const reference = first.reference;
      assert.ok(reference);
      assert.equal(first.replacedPrevious, false);
      assert.equal(reference.userId, alice);
      assert.match(reference.referenceId, /^[0-9a-f-]{36}$/);
      assert.match(reference.modelVersion, /^human-3\.3\.6\//);
      assert.ok(reference.face?.quality?.quality === FaceQuality.HIGH || reference.face?.quality?.quality === FaceQuality.MEDIUM);
      assert.ok((reference.face?.detectionConfidence ?? 0) >= 50);
      assert.equal(reference.face?.attributes?.gender, Gender.FEMALE);
      assert.ok(reference.face?.attributes?.ageRange);
      assert.deepEqual([reference.liveness?.floor, reference.liveness?.passed], [0, true]);
      assert.ok(reference.enrolledAt);

      const stored = await faceDatabase.query<{ embedding_sealed: Buffer; consent_at: Date }>(
        "SELECT embedding_sealed, consent_at FROM face_reference WHERE user_id = $1",
        [alice],
      );
      assert.equal(stored.rows.length, 1);
      // 1024 float32s plus the sealed envelope (version, key id, nonce, tag).
      assert.ok((stored.rows[0]?.embedding_sealed.length ?? 0) > 4096 && (stored.rows[0]?.embedding_sealed.length ?? 0) < 4200);
      assert.ok(stored.rows[0]?.consent_at);

      // A retry with the same key and image answers the first result; nothing new is enrolled.
      const replay = await client().enrollFace(
        { userId: alice, image: await portrait("ada"), biometricConsent: true, idempotencyKey: "enrol-alice-1" },
        await asUser(alice),
      );
      assert.equal(replay.reference?.referenceId, reference.referenceId);
      await assert.rejects(
        client().enrollFace(
          { userId: alice, image: await portrait("ada", "png"), biometricConsent: true, idempotencyKey: "enrol-alice-1" },
          await asUser(alice),
        ),
        rejectsWith(Code.AlreadyExists, /idempotency_key/),
      );

      const second = await client().enrollFace(
        { userId: alice, image: await portrait("ada", "png"), biometricConsent: true, idempotencyKey: "enrol-alice-2" },
        await asUser(alice),
      );
      assert.equal(second.replacedPrevious, true);
      assert.notEqual(second.reference?.referenceId, reference.referenceId);
      assert.equal(await referenceIdOf(alice), second.reference?.referenceId);
    });

    it("lets the registration service enrol the user it acts for", async () => {
      const response = await client().enrollFace(
        { userId: bob, image: await portrait("bea"), biometricConsent: true, idempotencyKey: randomUUID() },
        await asService("registration"),
      );
      assert.equal(response.reference?.userId, bob);
      const recorded = await faceDatabase.query("SELECT recorded_by_service FROM face_reference WHERE user_id = $1", [bob]);
      assert.equal(recorded.rows[0]?.recorded_by_service, "registration");
    });

    it("refuses images without exactly one face with FAILED_PRECONDITION naming the count, and bad input, changing nothing", async () => {
      const before = await referenceIdOf(alice);
      const enrol = async (image: Uint8Array, extra: object = {}) =>
        client().enrollFace({ userId: alice, image, biometricConsent: true, idempotencyKey: randomUUID(), ...extra }, await asUser(alice));
      await assert.rejects(
        enrol(await groupPhoto()),
        rejectsWith(Code.FailedPrecondition, /More than one face found \(3\).*3 faces detected/),
      );
      await assert.rejects(enrol(await photoWithoutFace()), rejectsWith(Code.FailedPrecondition, /No face found.*0 faces detected/));
      await assert.rejects(
        enrol(Buffer.from("GIF89a not really a picture")),
        rejectsWith(Code.InvalidArgument, /image: must be a JPEG or PNG/),
      );
      const jpeg = await portrait("ada");
      await assert.rejects(enrol(jpeg.subarray(0, 2000)), rejectsWith(Code.InvalidArgument, /image: is not a decodable JPEG or PNG/));
      await assert.rejects(
        enrol(jpeg, { biometricConsent: false }),
        rejectsWith(Code.InvalidArgument, /biometric_consent/, "biometric_consent"),
      );
      await assert.rejects(enrol(jpeg, { idempotencyKey: "" }), rejectsWith(Code.InvalidArgument, /idempotency_key/, "idempotency_key"));
      await assert.rejects(enrol(new Uint8Array()), rejectsWith(Code.InvalidArgument, /image/, "image"));
      await assert.rejects(
        client().enrollFace(
          { userId: "alice", image: jpeg, biometricConsent: true, idempotencyKey: randomUUID() },
          await asService("registration"),
        ),
        rejectsWith(Code.InvalidArgument, /user_id/, "user_id"),
      );
      assert.equal(await referenceIdOf(alice), before);
    });

    it("lets nobody but the person and the registration service set a reference", async () => {
      const request = { userId: alice, image: await portrait("bea"), biometricConsent: true, idempotencyKey: randomUUID() };
      const before = await referenceIdOf(alice);
      await assert.rejects(client().enrollFace(request, await asUser(bob)), rejectsWith(Code.PermissionDenied));
      await assert.rejects(client().enrollFace(request, await asAdmin()), rejectsWith(Code.PermissionDenied));
      await assert.rejects(client().enrollFace(request, await asService("payments")), rejectsWith(Code.PermissionDenied));
      await assert.rejects(client().enrollFace(request), rejectsWith(Code.Unauthenticated));
      assert.equal(await referenceIdOf(alice), before);
    });
  });

  describe("ValidateFaceImage", () => {
    it("matches the same person in another capture above the threshold, numbering attempts and recording the caller's address", async () => {
      const first = (
        await client().validateFaceImage(await validation(alice, "reg-1", await portrait("ada", "recompressed")), await asUser(alice))
      ).validation;
      assert.ok(first);
      assert.equal(first.status, ValidationStatus.SUCCESS);
      assert.equal(first.failureReason, ValidationFailureReason.UNSPECIFIED);
      assert.equal(first.message, "Face image is valid");
      assert.ok((first.comparison?.similarity ?? 0) >= threshold, `similarity ${first.comparison?.similarity}`);
      assert.deepEqual([first.comparison?.threshold, first.comparison?.isMatch], [threshold, true]);
      assert.equal(first.confidence, first.comparison?.similarity);
      assert.deepEqual(
        [first.attempt, first.facesDetected, first.userId, first.registrationId, first.eventId],
        [1, 1, alice, "reg-1", "event-berlin-2026"],
      );
      assert.equal(first.referenceId, await referenceIdOf(alice));
      assert.equal(first.source, CaptureSource.MOBILE_APP);
      assert.equal(first.clientIp, "127.0.0.1", "a user calling directly is recorded at the address the call came from");
      assert.equal(first.recordedByService, "");
      assert.ok(first.face?.quality && first.liveness);
      const created = Number(first.createdAt?.seconds);
      assert.equal(Number(first.expiresAt?.seconds) - created, 30 * 24 * 60 * 60);

      // Over Connect (HTTP/1.1) too; a forged client_ip from a user is ignored.
      const connect = createClient(FaceService, createConnectTransport({ baseUrl: face.httpUrl, httpVersion: "1.1" }));
      const second = (
        await connect.validateFaceImage(
          await validation(alice, "reg-1", await portrait("ada", "small"), { clientIp: "198.51.100.1" }),
          await asUser(alice),
        )
      ).validation;
      assert.deepEqual([second?.status, second?.attempt, second?.clientIp], [ValidationStatus.SUCCESS, 2, "127.0.0.1"]);
    });

    it("fails a different person as NO_MATCH below the threshold, and records group and empty photos as failed attempts", async () => {
      const other = (
        await client().validateFaceImage(await validation(alice, "reg-2", await portrait("bea", "recompressed")), await asUser(alice))
      ).validation;
      assert.deepEqual([other?.status, other?.failureReason], [ValidationStatus.FAILED, ValidationFailureReason.NO_MATCH]);
      assert.ok((other?.comparison?.similarity ?? 100) < threshold, `similarity ${other?.comparison?.similarity}`);
      assert.equal(other?.comparison?.isMatch, false);

      const group = (await client().validateFaceImage(await validation(alice, "reg-2", await groupPhoto()), await asUser(alice)))
        .validation;
      assert.deepEqual(
        [group?.status, group?.failureReason, group?.facesDetected, group?.attempt],
        [ValidationStatus.FAILED, ValidationFailureReason.MULTIPLE_FACES, 3, 2],
      );
      assert.deepEqual([group?.comparison, group?.face, group?.confidence], [undefined, undefined, 0]);

      const empty = (await client().validateFaceImage(await validation(alice, "reg-3", await photoWithoutFace()), await asUser(alice)))
        .validation;
      assert.deepEqual(
        [empty?.failureReason, empty?.facesDetected, empty?.message],
        [ValidationFailureReason.NO_FACE, 0, "No face found in the image"],
      );
    });

    it("records the end user's address and the caller's name when the registration service validates, and admits back-office admins", async () => {
      const byService = (
        await client().validateFaceImage(
          await validation(alice, "reg-4", await portrait("ada", "png"), { clientIp: "203.0.113.9" }),
          await asService("registration"),
        )
      ).validation;
      assert.deepEqual(
        [byService?.status, byService?.clientIp, byService?.recordedByService],
        [ValidationStatus.SUCCESS, "203.0.113.9", "registration"],
      );
      const byAdmin = (
        await client().validateFaceImage(
          await validation(alice, "reg-4", await portrait("ada", "small"), { source: CaptureSource.BACK_OFFICE }),
          await asAdmin(),
        )
      ).validation;
      assert.deepEqual(
        [byAdmin?.status, byAdmin?.attempt, byAdmin?.source, byAdmin?.recordedByService],
        [ValidationStatus.SUCCESS, 2, CaptureSource.BACK_OFFICE, ""],
      );

      // Plain @grpc/grpc-js, as most internal callers: the address is the one the connection came from.
      const grpcJs = createGrpcJsClient(`127.0.0.1:${face.grpcPort}`);
      try {
        const response = await grpcJsUnary(
          grpcJs,
          FaceService.method.validateFaceImage,
          await validation(alice, "reg-5", await portrait("ada", "recompressed")),
          {
            metadata: { authorization: `Bearer ${await tokens.user(alice)}` },
          },
        );
        assert.deepEqual([response.validation?.status, response.validation?.clientIp], [ValidationStatus.SUCCESS, "127.0.0.1"]);
      } finally {
        grpcJs.close();
      }
    });

    it("replays a retried attempt instead of recording another", async () => {
      const request = await validation(alice, "reg-6", await portrait("ada", "recompressed"));
      const first = await client().validateFaceImage(request, await asUser(alice));
      const again = await client().validateFaceImage(request, await asUser(alice));
      assert.equal(again.validation?.validationId, first.validation?.validationId);
      assert.equal(again.validation?.attempt, 1);
      await assert.rejects(
        client().validateFaceImage({ ...request, registrationId: "reg-7" }, await asUser(alice)),
        rejectsWith(Code.AlreadyExists, /idempotency_key/),
      );
    });

    it("refuses to validate against another user's reference, a user without a reference, and bad input, recording nothing", async () => {
      const count = async () => Number((await faceDatabase.query("SELECT count(*) FROM face_validation")).rows[0]?.count);
      const before = await count();
      const image = await portrait("bea", "recompressed");
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", image), await asUser(alice)),
        rejectsWith(Code.PermissionDenied, /own/),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", image), await asService("payments")),
        rejectsWith(Code.PermissionDenied),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(carol, "reg-x", image), await asUser(carol)),
        rejectsWith(Code.FailedPrecondition, /user_id: user .* has no enrolled reference face/),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", Buffer.from("%PDF-1.7")), await asUser(bob)),
        rejectsWith(Code.InvalidArgument, /image: must be a JPEG or PNG/),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg x!", image), await asUser(bob)),
        rejectsWith(Code.InvalidArgument, /registration_id/, "registration_id"),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", image, { eventId: "" }), await asUser(bob)),
        rejectsWith(Code.InvalidArgument, /event_id/, "event_id"),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", image, { clientIp: "not-an-ip" }), await asService("registration")),
        rejectsWith(Code.InvalidArgument, /client_ip/, "client_ip"),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(bob, "reg-x", image, { source: 42 as CaptureSource }), await asUser(bob)),
        rejectsWith(Code.InvalidArgument, /source/, "source"),
      );
      assert.equal(await count(), before);
    });
  });

  describe("reads", () => {
    it("GetValidation returns the latest attempt to the owner, admins and registration, and nobody else", async () => {
      for (const options of [await asUser(alice), await asAdmin(), await asService("registration")]) {
        const latest = (await client().getValidation({ userId: alice, registrationId: "reg-1" }, options)).validation;
        assert.deepEqual([latest?.registrationId, latest?.attempt], ["reg-1", 2]);
      }
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "reg-1" }, await asUser(bob)),
        rejectsWith(Code.PermissionDenied),
      );
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "reg-1" }, await asService("payments")),
        rejectsWith(Code.PermissionDenied),
      );
      await assert.rejects(client().getValidation({ userId: alice, registrationId: "reg-1" }), rejectsWith(Code.Unauthenticated));
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "reg-404" }, await asUser(alice)),
        rejectsWith(Code.NotFound, /reg-404/),
      );
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "" }, await asUser(alice)),
        rejectsWith(Code.InvalidArgument, /registration_id/, "registration_id"),
      );
    });

    it("GetValidationHistory pages newest first with a cursor, and refuses bad page sizes and tokens", async () => {
      const seen: { id: string; createdAt: bigint }[] = [];
      let pageToken = "";
      for (let pages = 0; pages < 20; pages++) {
        const page = await client().getValidationHistory({ userId: alice, pageSize: 3, pageToken }, await asUser(alice));
        assert.ok(page.validations.length <= 3);
        seen.push(
          ...page.validations.map((record) => ({
            id: record.validationId,
            createdAt: (record.createdAt?.seconds ?? 0n) * 1000n + BigInt(Math.floor((record.createdAt?.nanos ?? 0) / 1e6)),
          })),
        );
        pageToken = page.nextPageToken;
        if (pageToken === "") break;
      }
      const total = Number((await faceDatabase.query("SELECT count(*) FROM face_validation WHERE user_id = $1", [alice])).rows[0]?.count);
      assert.equal(seen.length, total);
      assert.equal(new Set(seen.map((record) => record.id)).size, total);
      for (let index = 1; index < seen.length; index++) assert.ok((seen[index - 1]?.createdAt ?? 0n) >= (seen[index]?.createdAt ?? 0n));
      const firstPage = await client().getValidationHistory({ userId: alice }, await asUser(alice));
      assert.equal(firstPage.validations.length, Math.min(10, total), "page size 0 means 10");

      await assert.rejects(
        client().getValidationHistory({ userId: alice, pageSize: 101 }, await asUser(alice)),
        rejectsWith(Code.InvalidArgument, /page_size/, "page_size"),
      );
      await assert.rejects(
        client().getValidationHistory({ userId: alice, pageToken: "garbage" }, await asUser(alice)),
        rejectsWith(Code.InvalidArgument, /page_token/, "page_token"),
      );
      const aliceToken = (await client().getValidationHistory({ userId: alice, pageSize: 1 }, await asUser(alice))).nextPageToken;
      await assert.rejects(
        client().getValidationHistory({ userId: bob, pageToken: aliceToken }, await asUser(bob)),
        rejectsWith(Code.InvalidArgument, /another list/),
      );
      await assert.rejects(client().getValidationHistory({ userId: alice }, await asUser(bob)), rejectsWith(Code.PermissionDenied));
    });

    it("GetValidationStats counts attempts, outcomes and grades", async () => {
      const stats = await client().getValidationStats({ userId: alice }, await asAdmin());
      const rows = (
        await faceDatabase.query<{ status: string; quality: string | null }>(
          "SELECT status, quality FROM face_validation WHERE user_id = $1",
          [alice],
        )
      ).rows;
      assert.equal(stats.userId, alice);
      assert.equal(stats.totalAttempts, rows.length);
      assert.equal(stats.successfulValidations, rows.filter((row) => row.status === "success").length);
      assert.equal(stats.failedValidations, rows.filter((row) => row.status === "failed").length);
      assert.equal(stats.qualityBreakdown?.ungradedCount, rows.filter((row) => row.quality === null).length);
      assert.equal(
        (stats.qualityBreakdown?.highCount ?? 0) + (stats.qualityBreakdown?.mediumCount ?? 0) + (stats.qualityBreakdown?.lowCount ?? 0),
        rows.filter((row) => row.quality !== null).length,
      );
      assert.ok(stats.averageConfidence > 0 && stats.averageConfidence <= 100);
      assert.ok(stats.averageSimilarity > 0 && stats.averageSimilarity <= 100);
      assert.ok(stats.firstAttemptAt && stats.lastAttemptAt && stats.lastSuccessAt);
      const none = await client().getValidationStats({ userId: carol }, await asUser(carol));
      assert.deepEqual([none.totalAttempts, none.averageConfidence, none.firstAttemptAt], [0, 0, undefined]);
      await assert.rejects(
        client().getValidationStats({ userId: "nope" }, await asAdmin()),
        rejectsWith(Code.InvalidArgument, /user_id/, "user_id"),
      );
      await assert.rejects(client().getValidationStats({ userId: alice }, await asUser(carol)), rejectsWith(Code.PermissionDenied));
    });

    it("CheckRecentValidation finds the newest success within the window, and refuses windows beyond the 30-day retention", async () => {
      const recent = await client().checkRecentValidation({ userId: alice, lookback: { seconds: 3600n } }, await asService("registration"));
      assert.equal(recent.hasRecentValidation, true);
      assert.equal(recent.latestSuccess?.status, ValidationStatus.SUCCESS);
      assert.equal(recent.lookback?.seconds, 3600n);
      const defaulted = await client().checkRecentValidation({ userId: alice }, await asUser(alice));
      assert.equal(defaulted.lookback?.seconds, BigInt(30 * 24 * 3600));
      const none = await client().checkRecentValidation({ userId: carol }, await asUser(carol));
      assert.deepEqual([none.hasRecentValidation, none.latestSuccess], [false, undefined]);
      await assert.rejects(
        client().checkRecentValidation({ userId: alice, lookback: { seconds: BigInt(31 * 24 * 3600) } }, await asUser(alice)),
        rejectsWith(Code.InvalidArgument, /lookback/, "lookback"),
      );
      await assert.rejects(client().checkRecentValidation({ userId: alice }, await asUser(bob)), rejectsWith(Code.PermissionDenied));
    });

    it("ListEventValidations serves admins and registration only, newest first, filtered and paged", async () => {
      const all = await client().listEventValidations({ eventId: "event-berlin-2026", pageSize: 500 }, await asAdmin());
      const total = Number(
        (await faceDatabase.query("SELECT count(*) FROM face_validation WHERE event_id = $1", ["event-berlin-2026"])).rows[0]?.count,
      );
      assert.equal(all.validations.length, total);
      assert.equal(all.nextPageToken, "");
      const latest = await client().listEventValidations(
        { eventId: "event-berlin-2026", latestAttemptOnly: true, pageSize: 500 },
        await asService("registration"),
      );
      const keys = latest.validations.map((record) => `${record.userId}/${record.registrationId}`);
      assert.equal(new Set(keys).size, keys.length, "one record per user and registration");
      const reg1 = latest.validations.find((record) => record.userId === alice && record.registrationId === "reg-1");
      assert.equal(reg1?.attempt, 2);
      const failed = await client().listEventValidations(
        { eventId: "event-berlin-2026", status: ValidationStatus.FAILED },
        await asAdmin(),
      );
      assert.ok(failed.validations.length > 0 && failed.validations.every((record) => record.status === ValidationStatus.FAILED));
      const firstPage = await client().listEventValidations({ eventId: "event-berlin-2026", pageSize: 2 }, await asAdmin());
      const secondPage = await client().listEventValidations(
        { eventId: "event-berlin-2026", pageSize: 2, pageToken: firstPage.nextPageToken },
        await asAdmin(),
      );
      assert.deepEqual(
        [...firstPage.validations, ...secondPage.validations].map((record) => record.validationId),
        all.validations.slice(0, 4).map((record) => record.validationId),
      );

      await assert.rejects(
        client().listEventValidations({ eventId: "event-berlin-2026" }, await asUser(alice)),
        rejectsWith(Code.PermissionDenied, /admin/),
      );
      await assert.rejects(
        client().listEventValidations({ eventId: "" }, await asAdmin()),
        rejectsWith(Code.InvalidArgument, /event_id/, "event_id"),
      );
      await assert.rejects(
        client().listEventValidations({ eventId: "e", pageSize: 501 }, await asAdmin()),
        rejectsWith(Code.InvalidArgument, /page_size/, "page_size"),
      );
      await assert.rejects(
        client().listEventValidations(
          { eventId: "event-berlin-2026", status: ValidationStatus.SUCCESS, pageToken: firstPage.nextPageToken },
          await asAdmin(),
        ),
        rejectsWith(Code.InvalidArgument, /page_token/),
      );
    });
  });

  describe("lifecycle", () => {
    it("hides an expired record at once and the sweeper purges it", async () => {
      const id = randomUUID();
      const createdAt = new Date(Date.now() - 31 * 24 * 60 * 60_000);
      await faceDatabase.query(
        `INSERT INTO face_validation (id, user_id, registration_id, event_id, attempt, status, message, faces_detected, confidence,
           reference_id, model_version, client_ip, source, recorded_by_service, created_at, expires_at)
         VALUES ($1, $2, 'reg-old', 'event-old', 1, 'success', 'old', 1, 90, gen_random_uuid(), 'm', '', 'web', '', $3, $4)`,
        [id, alice, createdAt, new Date(createdAt.getTime() + 30 * 24 * 60 * 60_000 + 1000)],
      );
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "reg-old" }, await asUser(alice)),
        rejectsWith(Code.NotFound),
      );
      const exists = async () => (await faceDatabase.query("SELECT 1 FROM face_validation WHERE id = $1", [id])).rows.length > 0;
      const giveUpAt = Date.now() + 20_000;
      while ((await exists()) && Date.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await exists(), false, "the sweeper removed the expired record");
    });

    it("shows what happened on /metrics", async () => {
      const body = await (await fetch(`http://127.0.0.1:${face.adminPort}/metrics`)).text();
      for (const series of [
        /face_validations_total\{[^}]*outcome="success"[^}]*\} [1-9]/,
        /face_validations_total\{[^}]*outcome="no_match"[^}]*\} [1-9]/,
        /face_validations_total\{[^}]*outcome="multiple_faces"[^}]*\} [1-9]/,
        /face_matches_total\{[^}]*result="match"[^}]*\} [1-9]/,
        /face_matches_total\{[^}]*result="no_match"[^}]*\} [1-9]/,
        /face_quality_total\{[^}]*operation="validate"[^}]*quality="ungraded"[^}]*\} [1-9]/,
        /face_similarity_bucket\{[^}]*le="100"[^}]*\} [1-9]/,
        /face_inference_duration_seconds_count\{[^}]*operation="enrol"[^}]*\} [1-9]/,
        /face_inference_wait_seconds_count\{[^}]*operation="validate"[^}]*\} [1-9]/,
        /face_enrolments_total\{[^}]*outcome="enrolled"[^}]*\} [1-9]/,
        /face_enrolments_total\{[^}]*outcome="multiple_faces"[^}]*\} [1-9]/,
        /face_inference_queue_depth\{[^}]*\} 0/,
        /face_inference_workers\{[^}]*\} 1/,
        /face_records_swept_total\{[^}]*\} [1-9]/,
      ]) {
        assert.ok(
          series.test(body),
          `${series} on /metrics:\n${body
            .split("\n")
            .filter((line) => line.startsWith("face_"))
            .join("\n")}`,
        );
      }
    });

    it("DeleteFaceData erases a person's reference and records on their request, idempotently, and only theirs", async () => {
      await assert.rejects(client().deleteFaceData({ userId: alice }, await asUser(bob)), rejectsWith(Code.PermissionDenied));
      await assert.rejects(
        client().deleteFaceData({ userId: "x" }, await asAdmin()),
        rejectsWith(Code.InvalidArgument, /user_id/, "user_id"),
      );
      const bobsRecords = Number(
        (await faceDatabase.query("SELECT count(*) FROM face_validation WHERE user_id = $1", [bob])).rows[0]?.count,
      );
      const alices = Number((await faceDatabase.query("SELECT count(*) FROM face_validation WHERE user_id = $1", [alice])).rows[0]?.count);
      const erased = await client().deleteFaceData({ userId: alice }, await asUser(alice));
      assert.deepEqual([erased.referenceDeleted, erased.validationsDeleted, erased.imagesDeleted], [true, alices, 0]);
      assert.ok(erased.deletedAt);
      assert.equal(await referenceIdOf(alice), undefined);
      const left = await faceDatabase.query(
        "SELECT (SELECT count(*) FROM face_validation WHERE user_id = $1)::int AS records, (SELECT count(*) FROM idempotency_record WHERE subject_user_id = $1)::int AS responses",
        [alice],
      );
      assert.deepEqual(left.rows[0], { records: 0, responses: 0 });
      await assert.rejects(
        client().getValidation({ userId: alice, registrationId: "reg-1" }, await asUser(alice)),
        rejectsWith(Code.NotFound),
      );
      await assert.rejects(
        client().validateFaceImage(await validation(alice, "reg-1", await portrait("ada")), await asUser(alice)),
        rejectsWith(Code.FailedPrecondition, /no enrolled reference/),
      );
      const again = await client().deleteFaceData({ userId: alice }, await asUser(alice));
      assert.deepEqual([again.referenceDeleted, again.validationsDeleted], [false, 0]);
      assert.equal(
        Number((await faceDatabase.query("SELECT count(*) FROM face_validation WHERE user_id = $1", [bob])).rows[0]?.count),
        bobsRecords,
      );

      // Admins erase on a person's behalf; a grpc-js caller sees the same codes.
      assert.equal((await client().deleteFaceData({ userId: bob }, await asAdmin())).referenceDeleted, true);
      const grpcJs = createGrpcJsClient(`127.0.0.1:${face.grpcPort}`);
      try {
        await assert.rejects(
          grpcJsUnary(
            grpcJs,
            FaceService.method.deleteFaceData,
            { userId: bob },
            { metadata: { authorization: `Bearer ${await tokens.user(carol)}` } },
          ),
          (error: GrpcJsError) => error.code === grpc.status.PERMISSION_DENIED,
        );
      } finally {
        grpcJs.close();
      }
    });
  });
  describe("a replica with a liveness floor", () => {
    let replica: RunningService;
    const dave = randomUUID();
    const environment = (overrides: Record<string, string> = {}) => ({
      HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      ADMIN_PORT: "0",
      LOG_LEVEL: "silent",
      DATABASE_URL: databases.get("face") as string,
      REDIS_URL: `${redis.url.replace(/\/\d*$/, "")}/5`,
      AUTH_GRPC_URL: (platform.services.auth as ServiceAddresses).grpcUrl,
      FACE_KEK_RING: keys.ring,
      FACE_KEK_ACTIVE_ID: keys.activeId,
      FACE_INFERENCE_WORKERS: "1",
      ...overrides,
    });
    const replicaClient = () => createClient(FaceService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${replica.server.grpcPort}` }));

    before(async () => {
      // Enrolled through the first process, which has no floor.
      await client().enrollFace(
        { userId: dave, image: await portrait("dana"), biometricConsent: true, idempotencyKey: randomUUID() },
        await asUser(dave),
      );
      // A second process on the same database, as a replica would be, refusing anything below 99.9.
      replica = await startService(faceDefinition, environment({ FACE_LIVENESS_FLOOR: "99.9" }));
    });

    after(async () => {
      await replica?.stop();
    });

    it("records an image below the floor as SPOOF_SUSPECTED, with its scores and comparison, and refuses it for enrolment", async () => {
      const attempt = (
        await replicaClient().validateFaceImage(
          await validation(dave, "reg-live", await portrait("dana", "recompressed")),
          await asUser(dave),
        )
      ).validation;
      assert.deepEqual([attempt?.status, attempt?.failureReason], [ValidationStatus.FAILED, ValidationFailureReason.SPOOF_SUSPECTED]);
      assert.deepEqual([attempt?.liveness?.floor, attempt?.liveness?.passed], [Math.fround(99.9), false]);
      assert.ok((attempt?.liveness?.antiSpoofScore ?? 100) < 99.9 || (attempt?.liveness?.livenessScore ?? 100) < 99.9);
      assert.ok((attempt?.comparison?.similarity ?? 0) >= threshold, "the comparison is kept for fraud review");
      await assert.rejects(
        replicaClient().enrollFace(
          { userId: dave, image: await portrait("dana"), biometricConsent: true, idempotencyKey: randomUUID() },
          await asUser(dave),
        ),
        rejectsWith(Code.FailedPrecondition, /anti-spoof .* must reach 99\.9/),
      );
    });

    it("refuses to start without its key-encryption keys, naming the variable", async () => {
      await assert.rejects(startService(faceDefinition, environment({ FACE_KEK_RING: "" })), (error: ConfigError) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.variables, ["FACE_KEK_RING"]);
        return true;
      });
    });
  });
});
