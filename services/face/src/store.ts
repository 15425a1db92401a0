// The only place face touches Prisma. Times come from the caller (the
// service's clock), so records, expiry filters and page cursors agree to the
// millisecond; every list is bounded by its caller's page size.
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { type FaceReference, type FaceValidation, Prisma, PrismaClient } from "./generated/prisma/client.ts";
import type { PagePosition } from "./page-token.ts";

export type { FaceReference, FaceValidation };
export type NewFaceReference = Omit<FaceReference, "face" | "liveness"> & { face: Prisma.InputJsonValue; liveness: Prisma.InputJsonValue };
export type NewFaceValidation = Omit<FaceValidation, "attempt" | "face" | "liveness"> & {
  face: Prisma.InputJsonValue | null;
  liveness: Prisma.InputJsonValue | null;
};

/** Where a mutation's idempotency record goes, and what it answers a replay with. */
export interface IdempotencyEntry {
  /** The caller the key belongs to ("user:<id>" or "service:<name>"). */
  scope: string;
  key: string;
  method: string;
  requestHash: Uint8Array;
  /** The person the response is about, so DeleteFaceData erases it. */
  subjectUserId: string;
  expiresAt: Date;
}

export interface StoredIdempotency {
  method: string;
  requestHash: Uint8Array;
  response: Uint8Array;
}

/** A mutation's outcome: done now, or answered by the record of an earlier call with the same key. */
export type Idempotent<T> = { kind: "done"; value: T } | { kind: "replay"; record: StoredIdempotency };

export interface ValidationStats {
  total: number;
  successes: number;
  failures: number;
  averageConfidence: number;
  averageSimilarity: number;
  high: number;
  medium: number;
  low: number;
  ungraded: number;
  firstAt: Date | null;
  lastAt: Date | null;
  lastSuccessAt: Date | null;
}

export interface EventValidationsQuery {
  eventId: string;
  status?: "success" | "failed";
  latestAttemptOnly: boolean;
  after?: PagePosition;
  limit: number;
  now: Date;
}

export interface FaceStore {
  findIdempotency(scope: string, key: string): Promise<StoredIdempotency | undefined>;
  findReference(userId: string): Promise<FaceReference | undefined>;
  /** Replaces the user's reference; `replaced` says whether one existed. */
  saveReference(
    reference: NewFaceReference,
    idempotency: IdempotencyEntry,
    respond: (replaced: boolean) => Uint8Array,
  ): Promise<Idempotent<{ replaced: boolean }>>;
  /**
   * Numbers the attempt and stores it, unless the user's reference was erased
   * meanwhile (then "reference_gone": nothing may be recorded about them).
   */
  recordValidation(
    validation: NewFaceValidation,
    idempotency: IdempotencyEntry | undefined,
    respond: (stored: FaceValidation) => Uint8Array,
  ): Promise<Idempotent<FaceValidation> | { kind: "reference_gone" }>;
  latestValidation(userId: string, registrationId: string, now: Date): Promise<FaceValidation | undefined>;
  validationHistory(userId: string, now: Date, after: PagePosition | undefined, limit: number): Promise<FaceValidation[]>;
  validationStats(userId: string, now: Date): Promise<ValidationStats>;
  latestSuccess(userId: string, since: Date, now: Date): Promise<FaceValidation | undefined>;
  eventValidations(query: EventValidationsQuery): Promise<FaceValidation[]>;
  /** Postgres's plan for eventValidations' statement (EXPLAIN, FORMAT JSON), to prove it uses the event index. */
  explainEventValidations(query: EventValidationsQuery): Promise<unknown>;
  deleteFaceData(userId: string): Promise<{ referenceDeleted: boolean; validationsDeleted: number }>;
  /** Deletes up to batchMax expired validation records and as many expired idempotency records. */
  purgeExpired(now: Date, batchMax: number): Promise<{ validations: number; idempotency: number }>;
  close(): Promise<void>;
}

/** Interactive transactions here do a few indexed statements; more than this is a stuck database. */
const transactionTimeoutMs = 10_000;

/** The columns of face_validation under their model names, for raw statements. */
const validationColumns = Prisma.sql`
  v.id, v.user_id AS "userId", v.registration_id AS "registrationId", v.event_id AS "eventId", v.attempt,
  v.status, v.failure_reason AS "failureReason", v.message, v.faces_detected AS "facesDetected", v.confidence,
  v.quality, v.similarity, v.threshold, v.is_match AS "isMatch", v.face, v.liveness, v.reference_id AS "referenceId",
  v.model_version AS "modelVersion", v.client_ip AS "clientIp", v.source, v.recorded_by_service AS "recordedByService",
  v.created_at AS "createdAt", v.expires_at AS "expiresAt"`;

type Transaction = Omit<PrismaClient, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

/** Serialises calls with one idempotency key, so a racing retry waits and then replays. */
async function lockIdempotencyKey(transaction: Transaction, entry: IdempotencyEntry): Promise<StoredIdempotency | undefined> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`idempotency:${entry.scope}/${entry.key}`}, 0))`;
  const found = await transaction.idempotencyRecord.findUnique({ where: { scope_key: { scope: entry.scope, key: entry.key } } });
  return found ?? undefined;
}

async function storeIdempotency(transaction: Transaction, entry: IdempotencyEntry, response: Uint8Array): Promise<void> {
  await transaction.idempotencyRecord.create({
    data: {
      scope: entry.scope,
      key: entry.key,
      method: entry.method,
      requestHash: Buffer.from(entry.requestHash),
      response: Buffer.from(response),
      subjectUserId: entry.subjectUserId,
      expiresAt: entry.expiresAt,
    },
  });
}

function eventValidationsStatement(query: EventValidationsQuery): Prisma.Sql {
  const status = query.status === undefined ? Prisma.empty : Prisma.sql`AND v.status = ${query.status}`;
  const after =
    query.after === undefined ? Prisma.empty : Prisma.sql`AND (v.created_at, v.id) < (${query.after.createdAt}, ${query.after.id}::uuid)`;
  // The latest attempt is the one no higher attempt of the same user and
  // registration follows; the check is a lookup in the key's unique index.
  const latest = query.latestAttemptOnly
    ? Prisma.sql`AND NOT EXISTS (
        SELECT 1 FROM face_validation later
        WHERE later.user_id = v.user_id AND later.registration_id = v.registration_id AND later.attempt > v.attempt)`
    : Prisma.empty;
  return Prisma.sql`
    SELECT ${validationColumns}
    FROM face_validation v
    WHERE v.event_id = ${query.eventId} AND v.expires_at > ${query.now} ${status} ${after} ${latest}
    ORDER BY v.created_at DESC, v.id DESC
    LIMIT ${query.limit}`;
}

export function createFaceStore(pool: pg.Pool): FaceStore {
  const prisma = createPrismaClient(PrismaClient, { pool });
  const unexpired = (now: Date) => ({ expiresAt: { gt: now } });
  const newestFirst = [{ createdAt: "desc" as const }, { id: "desc" as const }];

  return {
    async findIdempotency(scope, key) {
      return (await prisma.idempotencyRecord.findUnique({ where: { scope_key: { scope, key } } })) ?? undefined;
    },

    async findReference(userId) {
      return (await prisma.faceReference.findUnique({ where: { userId } })) ?? undefined;
    },

    saveReference(reference, idempotency, respond) {
      return prisma.$transaction(
        async (transaction): Promise<Idempotent<{ replaced: boolean }>> => {
          const earlier = await lockIdempotencyKey(transaction, idempotency);
          if (earlier) return { kind: "replay", record: earlier };
          const existing = await transaction.$queryRaw<
            unknown[]
          >`SELECT 1 FROM face_reference WHERE user_id = ${reference.userId}::uuid FOR UPDATE`;
          const replaced = existing.length > 0;
          const { userId, ...fields } = reference;
          await transaction.faceReference.upsert({ where: { userId }, create: reference, update: fields });
          await storeIdempotency(transaction, idempotency, respond(replaced));
          return { kind: "done", value: { replaced } };
        },
        { timeout: transactionTimeoutMs },
      );
    },

    recordValidation(validation, idempotency, respond) {
      return prisma.$transaction(
        async (transaction): Promise<Idempotent<FaceValidation> | { kind: "reference_gone" }> => {
          if (idempotency) {
            const earlier = await lockIdempotencyKey(transaction, idempotency);
            if (earlier) return { kind: "replay", record: earlier };
          }
          // A share lock on the reference: an erasure running now waits for this
          // record and then deletes it too, and one that ran first leaves nothing to lock.
          const reference = await transaction.$queryRaw<
            unknown[]
          >`SELECT 1 FROM face_reference WHERE user_id = ${validation.userId}::uuid FOR SHARE`;
          if (reference.length === 0) return { kind: "reference_gone" };
          await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`attempt:${validation.userId}/${validation.registrationId}`}, 0))`;
          const last = await transaction.faceValidation.aggregate({
            where: { userId: validation.userId, registrationId: validation.registrationId },
            _max: { attempt: true },
          });
          const stored = await transaction.faceValidation.create({
            data: {
              ...validation,
              attempt: (last._max.attempt ?? 0) + 1,
              face: validation.face ?? Prisma.DbNull,
              liveness: validation.liveness ?? Prisma.DbNull,
            },
          });
          if (idempotency) await storeIdempotency(transaction, idempotency, respond(stored));
          return { kind: "done", value: stored };
        },
        { timeout: transactionTimeoutMs },
      );
    },

    async latestValidation(userId, registrationId, now) {
      const found = await prisma.faceValidation.findFirst({
        where: { userId, registrationId, ...unexpired(now) },
        orderBy: { attempt: "desc" },
      });
      return found ?? undefined;
    },

    validationHistory(userId, now, after, limit) {
      const cursor = after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {};
      return prisma.faceValidation.findMany({ where: { userId, ...unexpired(now), ...cursor }, orderBy: newestFirst, take: limit });
    },

    async validationStats(userId, now) {
      const [row] = await prisma.$queryRaw<ValidationStats[]>`
        SELECT
          count(*)::int AS total,
          count(*) FILTER (WHERE status = 'success')::int AS successes,
          count(*) FILTER (WHERE status = 'failed')::int AS failures,
          coalesce(avg(confidence), 0)::float8 AS "averageConfidence",
          coalesce(avg(similarity), 0)::float8 AS "averageSimilarity",
          count(*) FILTER (WHERE quality = 'high')::int AS high,
          count(*) FILTER (WHERE quality = 'medium')::int AS medium,
          count(*) FILTER (WHERE quality = 'low')::int AS low,
          count(*) FILTER (WHERE quality IS NULL)::int AS ungraded,
          min(created_at) AS "firstAt",
          max(created_at) AS "lastAt",
          max(created_at) FILTER (WHERE status = 'success') AS "lastSuccessAt"
        FROM face_validation
        WHERE user_id = ${userId}::uuid AND expires_at > ${now}`;
      if (!row) throw new Error("an aggregate query returned no row");
      return row;
    },

    async latestSuccess(userId, since, now) {
      const found = await prisma.faceValidation.findFirst({
        where: { userId, status: "success", createdAt: { gte: since }, ...unexpired(now) },
        orderBy: newestFirst,
      });
      return found ?? undefined;
    },

    eventValidations(query) {
      return prisma.$queryRaw<FaceValidation[]>(eventValidationsStatement(query));
    },

    async explainEventValidations(query) {
      const [row] = await prisma.$queryRaw<{ "QUERY PLAN": unknown }[]>(
        Prisma.sql`EXPLAIN (FORMAT JSON) ${eventValidationsStatement(query)}`,
      );
      return row?.["QUERY PLAN"];
    },

    deleteFaceData(userId) {
      return prisma.$transaction(
        async (transaction) => {
          const references = await transaction.faceReference.deleteMany({ where: { userId } });
          const validations = await transaction.faceValidation.deleteMany({ where: { userId } });
          await transaction.idempotencyRecord.deleteMany({ where: { subjectUserId: userId } });
          return { referenceDeleted: references.count > 0, validationsDeleted: validations.count };
        },
        { timeout: transactionTimeoutMs },
      );
    },

    async purgeExpired(now, batchMax) {
      // Replicas sweeping at once skip each other's rows instead of waiting on them.
      const validations = await prisma.$executeRaw`
        DELETE FROM face_validation WHERE id IN (
          SELECT id FROM face_validation WHERE expires_at <= ${now}
          ORDER BY expires_at LIMIT ${batchMax} FOR UPDATE SKIP LOCKED)`;
      const idempotency = await prisma.$executeRaw`
        DELETE FROM idempotency_record WHERE (scope, key) IN (
          SELECT scope, key FROM idempotency_record WHERE expires_at <= ${now}
          ORDER BY expires_at LIMIT ${batchMax} FOR UPDATE SKIP LOCKED)`;
      return { validations, idempotency };
    },

    close: () => prisma.$disconnect(),
  };
}
