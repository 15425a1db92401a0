// What the handlers share: their dependencies, the caller, idempotent
// acceptance of a new payment, addresses and page tokens.
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Party } from "@trustmesh/api/trustmesh/payments/v1/payments_pb.js";
import {
  type DomainError,
  invalidArgument,
  type Logger,
  permissionDenied,
  principalOf,
  requireUserId,
  resourceExhausted,
  type Sealer,
} from "@trustmesh/runtime";
import { type ContactAddress, type ContactDirectory, normaliseContact } from "../contacts/contact-directory.ts";
import type { FeeSchedule } from "../domain/fees.ts";
import { type LimitSchedule, periodsOf, type Tier, tierOf } from "../domain/limits.ts";
import type { Currency } from "../domain/money.ts";
import type { PaymentEvents } from "../payment-events.ts";
import type { PaymentsMetrics } from "../payments-metrics.ts";
import type { PaymentRail } from "../rails/payment-rail.ts";
import { claimIdempotencyKey, replayedResourceId } from "../store/idempotency-store.ts";
import { insertPayment, type NewPayment, reserveLimitUsage } from "../store/payment-store.ts";
import { type Prisma, type Transaction, transactionOptions } from "../store/prisma.ts";

export interface PaymentsServiceOptions {
  /** How long a payment to an address without an account can be claimed. */
  claimWindowMs: number;
  /** A request's lifetime when the requester gives none. */
  requestDefaultTtlMs: number;
  /** How long idempotency keys are kept. */
  idempotencyRetentionMs: number;
  /** How often an open WatchPayment re-reads its payment without a notice. */
  watchPollMs: number;
  /** The longest a WatchPayment stream stays open. */
  watchMaxMs: number;
}

/** Keyed request fingerprints, so no request body (a card number) is stored even hashed. */
export interface Fingerprinter {
  readonly activeKeyId: string;
  fingerprint(keyId: string, method: string, body: Uint8Array): Uint8Array;
}

export function createFingerprinter(keyRing: ReadonlyMap<string, Buffer>, activeKeyId: string): Fingerprinter {
  const keys = new Map<string, Buffer>();
  for (const [id, key] of keyRing)
    keys.set(id, Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "trustmesh payments idempotency fingerprint", 32)));
  if (!keys.has(activeKeyId)) throw new Error(`the key ring has no key ${activeKeyId}`);
  return {
    activeKeyId,
    fingerprint(keyId, method, body) {
      const key = keys.get(keyId);
      if (!key) throw new Error(`the key ring no longer has key ${keyId}`);
      return createHmac("sha256", key).update(method).update("\0").update(body).digest();
    },
  };
}

export interface HandlerDependencies {
  prisma: Prisma;
  directory: ContactDirectory;
  rails: ReadonlyMap<string, PaymentRail>;
  /** The rail new payment methods are added to. */
  defaultRail: string;
  sealer: Sealer;
  fingerprinter: Fingerprinter;
  events: PaymentEvents;
  metrics: PaymentsMetrics;
  logger: Logger;
  feeSchedule: FeeSchedule;
  limitSchedule: LimitSchedule;
  options: PaymentsServiceOptions;
  /** Tells the worker that a job was queued, so it need not wait for its next poll. */
  onJobQueued(): void;
}

export interface Caller {
  userId: string;
  tier: Tier;
}

export function callerOf(context: HandlerContext): Caller {
  const userId = requireUserId(context);
  const principal = principalOf(context);
  return { userId, tier: tierOf(principal?.kind === "user" ? principal.roles : []) };
}

export function notYours(what: string): DomainError {
  // The same answer for a missing resource and someone else's (AIP-211), so ids cannot be probed.
  return permissionDenied(`${what} does not exist or is not yours`, "NOT_PARTY");
}

export function contactOf(party: Party | undefined, field: string): ContactAddress {
  switch (party?.address.case) {
    case "userId":
      return { kind: "USER_ID", address: party.address.value };
    case "email":
      return normaliseContact({ kind: "EMAIL", address: party.address.value });
    case "phone":
      return { kind: "PHONE", address: party.address.value };
    default:
      throw invalidArgument(field, "one of user_id, email or phone is required");
  }
}

/** The request's fingerprint under a key: its bytes without the idempotency key. */
export function fingerprintOf<S extends DescMessage>(
  fingerprinter: Fingerprinter,
  keyId: string,
  method: string,
  schema: S,
  request: MessageShape<S> & { idempotencyKey: string },
): Uint8Array {
  return fingerprinter.fingerprint(keyId, method, toBinary(schema, { ...request, idempotencyKey: "" } as MessageShape<S>));
}

/**
 * Runs `create` in a transaction that first claims the caller's idempotency
 * key; a replay returns the id first created instead (after checking the body
 * matches), and a refusal inside `create` stores nothing, key included.
 */
export async function idempotently<S extends DescMessage>(
  dependencies: HandlerDependencies,
  userId: string,
  method: string,
  schema: S,
  request: MessageShape<S> & { idempotencyKey: string },
  resourceId: string,
  create: (transaction: Transaction) => Promise<void>,
): Promise<{ resourceId: string; replayed: boolean }> {
  const { fingerprinter } = dependencies;
  const fingerprint = fingerprintOf(fingerprinter, fingerprinter.activeKeyId, method, schema, request);
  const stored = await dependencies.prisma.$transaction(async (transaction) => {
    const existing = await claimIdempotencyKey(transaction, {
      userId,
      key: request.idempotencyKey,
      method,
      fingerprint,
      fingerprintKeyId: fingerprinter.activeKeyId,
      resourceId,
      retentionMs: dependencies.options.idempotencyRetentionMs,
    });
    if (existing) return existing;
    await create(transaction);
    return undefined;
  }, transactionOptions);
  if (!stored) return { resourceId, replayed: false };
  const comparable =
    stored.fingerprintKeyId === fingerprinter.activeKeyId
      ? fingerprint
      : fingerprintOf(fingerprinter, stored.fingerprintKeyId, method, schema, request);
  return { resourceId: replayedResourceId(stored, method, comparable), replayed: true };
}

/** The day and month a payment accepted now counts against (stored on the payment, to give its amount back there). */
export function limitPeriodsOf(now: Date): { limitDay: Date; limitMonth: Date } {
  const { dayStart, monthStart } = periodsOf(now);
  return { limitDay: dayStart, limitMonth: monthStart };
}

/**
 * Counts a send against the caller's limits inside the accepting transaction,
 * or refuses it (and the transaction rolls back). Callers do this LAST, just
 * before the commit: the statement locks the user's limit rows, which
 * serialises that user's concurrent sends, so the less work after it, the
 * shorter each waits (found by the end-to-end race, test/e2e/payments.test.ts).
 */
export async function countAgainstLimits(
  dependencies: HandlerDependencies,
  transaction: Transaction,
  caller: Caller,
  currency: Currency,
  amountMinor: bigint,
  now: Date,
): Promise<void> {
  const line = dependencies.limitSchedule[caller.tier][currency];
  const { dayStart, monthStart } = periodsOf(now);
  const verdict = await reserveLimitUsage(transaction, {
    userId: caller.userId,
    currency,
    amountMinor,
    dayStart,
    monthStart,
    dailyMinor: line.dailyMinor,
    monthlyMinor: line.monthlyMinor,
  });
  if (verdict !== "ok") {
    dependencies.metrics.limitRejections.inc({ window: verdict, currency });
    throw limitExceeded(verdict, currency);
  }
}

export function limitExceeded(window: "per_transaction" | "daily" | "monthly", currency: string): DomainError {
  const error = resourceExhausted(`amount: the ${window.replace("_", "-")} limit for ${currency} would be exceeded`, "LIMIT_EXCEEDED");
  error.metadata.window = window;
  error.metadata.currency = currency;
  return error;
}

export function checkPerTransactionLimit(dependencies: HandlerDependencies, caller: Caller, currency: Currency, amountMinor: bigint): void {
  if (amountMinor > dependencies.limitSchedule[caller.tier][currency].perTransactionMinor) {
    dependencies.metrics.limitRejections.inc({ window: "per_transaction", currency });
    throw limitExceeded("per_transaction", currency);
  }
}

/** Creates a payment, counted in the metrics and announced once committed. */
export async function createPayment(transaction: Transaction, payment: NewPayment, reason: string, now: Date): Promise<void> {
  await insertPayment(transaction, payment, reason, now);
}

export function afterAccepted(
  dependencies: HandlerDependencies,
  payment: { id: string; kind: string; currency: string; priority: string },
): void {
  dependencies.metrics.payments.inc({ state: "CREATED", currency: payment.currency });
  dependencies.metrics.accepted.inc({
    kind: payment.kind.toLowerCase(),
    currency: payment.currency,
    priority: payment.priority.toLowerCase(),
  });
  dependencies.events.publish(payment.id);
  dependencies.onJobQueued();
}

// ---------------------------------------------------------------------------------------
// Page tokens: the last row's position and a digest of the filters, so a token
// cannot be replayed under other filters.

interface PagePosition {
  createdAt: Date;
  id: string;
}

function encodePageToken(position: PagePosition, filterDigest: string): string {
  return Buffer.from(JSON.stringify({ t: position.createdAt.toISOString(), i: position.id, f: filterDigest })).toString("base64url");
}

function decodePageToken(token: string, filterDigest: string): PagePosition | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { t?: unknown; i?: unknown; f?: unknown };
    const createdAt = new Date(String(parsed.t));
    if (typeof parsed.i !== "string" || Number.isNaN(createdAt.getTime()) || parsed.f !== filterDigest) throw new Error("mismatch");
    return { createdAt, id: parsed.i };
  } catch {
    throw invalidArgument("page_token", "is not a token from a previous page of this listing with the same filters");
  }
}

function pageSizeOf(requested: number): number {
  return requested === 0 ? 50 : Math.min(requested, 100);
}

/**
 * One page of a listing. `fetch` reads up to `limit` rows after `after`; asking
 * for one row more than the page shows whether another page follows, and the
 * filters' digest in the token refuses it under other filters.
 */
export async function listPage<Row extends PagePosition>(
  request: { pageToken: string; pageSize: number },
  filter: unknown,
  fetch: (after: PagePosition | undefined, limit: number) => Promise<Row[]>,
): Promise<{ page: Row[]; nextPageToken: string }> {
  const digest = createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 16);
  const after = decodePageToken(request.pageToken, digest);
  const limit = pageSizeOf(request.pageSize);
  const rows = await fetch(after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextPageToken: rows.length > limit && last ? encodePageToken(last, digest) : "" };
}
