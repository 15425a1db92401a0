// Payments, their history and their limit usage. A payment is created together
// with its job and its limit usage in one transaction; every state change goes
// through transition(), which checks the state machine, names the state it
// leaves in its UPDATE (so two workers cannot both move a payment) and writes
// the history row in the same transaction.
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { DomainError } from "@trustmesh/runtime";
import { assertTransition, type PaymentStateName } from "../domain/state-machine.ts";
import type { Payment as PaymentRow, Prisma as PrismaNamespace, PaymentStateChange as StateChangeRow } from "../generated/prisma/client.ts";
import type { Client, Transaction } from "./prisma.ts";

export type PaymentWithHistory = PaymentRow & { history: StateChangeRow[] };
export type { PaymentRow };

export type NewPayment = Omit<
  PrismaNamespace.PaymentUncheckedCreateInput,
  "state" | "createdAt" | "updatedAt" | "history" | "job" | "amountMinor" | "feeMinor"
> & { id: string; amountMinor: bigint; feeMinor: bigint };

/** Creates a payment in CREATED with its first history row and its queued job. */
export async function insertPayment(transaction: Transaction, payment: NewPayment, reason: string, now = new Date()): Promise<void> {
  await transaction.payment.create({
    data: {
      ...payment,
      amountMinor: payment.amountMinor.toString(),
      feeMinor: payment.feeMinor.toString(),
      state: "CREATED",
      createdAt: now,
      updatedAt: now,
      history: { create: { fromState: null, toState: "CREATED", reason, changedAt: now } },
      job: { create: { state: "QUEUED", runAt: now, updatedAt: now } },
    },
  });
}

export async function loadPayment(client: Client, id: string): Promise<PaymentWithHistory | null> {
  return client.payment.findUnique({ where: { id }, include: { history: { orderBy: { id: "asc" }, take: 100 } } });
}

/** Locks the payment row until the transaction ends. */
export async function lockPayment(transaction: Transaction, id: string): Promise<PaymentRow | null> {
  const rows = await transaction.$queryRaw<{ id: string }[]>`SELECT "id" FROM "payment" WHERE "id" = ${id}::uuid FOR UPDATE`;
  if (rows.length === 0) return null;
  return transaction.payment.findUnique({ where: { id } });
}

export class StaleStateError extends DomainError {
  constructor(id: string, expected: PaymentStateName) {
    super(Code.Aborted, `payment ${id} is no longer ${expected}`, { reason: "STALE_STATE" });
  }
}

/** Moves a payment from one state to another, with its history row. */
export async function transition(
  transaction: Transaction,
  id: string,
  from: PaymentStateName,
  to: PaymentStateName,
  reason: string,
  data: PrismaNamespace.PaymentUncheckedUpdateManyInput = {},
  now = new Date(),
): Promise<void> {
  assertTransition(from, to);
  const updated = await transaction.payment.updateMany({
    where: { id, state: from },
    data: { ...data, state: to, updatedAt: now, ...(to === "COMPLETED" ? { completedAt: now } : {}) },
  });
  if (updated.count !== 1) throw new StaleStateError(id, from);
  await transaction.paymentStateChange.create({
    data: { paymentId: id, fromState: from, toState: to, reason: reason.slice(0, 500), changedAt: now },
  });
}

/** Records fields that do not change the state (a ledger transaction id, a rail reference). */
export async function recordProgress(
  transaction: Client,
  id: string,
  state: PaymentStateName,
  data: PrismaNamespace.PaymentUncheckedUpdateManyInput,
): Promise<void> {
  const updated = await transaction.payment.updateMany({ where: { id, state }, data: { ...data, updatedAt: new Date() } });
  if (updated.count !== 1) throw new StaleStateError(id, state);
}

// ---------------------------------------------------------------------------------------
// Limits.

export type LimitWindow = "DAY" | "MONTH";

/**
 * Adds the amount to the day's and the month's usage if both stay within their
 * limits, else changes nothing and names the window that would be exceeded. The
 * upsert's conditional UPDATE takes the row lock and re-checks the sum after a
 * concurrent writer commits, so parallel sends cannot jointly pass a limit.
 * Day before month, always, so two transactions never wait on each other.
 */
export async function reserveLimitUsage(
  transaction: Transaction,
  usage: {
    userId: string;
    currency: string;
    amountMinor: bigint;
    dayStart: Date;
    monthStart: Date;
    dailyMinor: bigint;
    monthlyMinor: bigint;
  },
): Promise<"ok" | "daily" | "monthly"> {
  const windows = [
    { period: "DAY" as const, start: usage.dayStart, limit: usage.dailyMinor, name: "daily" as const },
    { period: "MONTH" as const, start: usage.monthStart, limit: usage.monthlyMinor, name: "monthly" as const },
  ];
  for (const window of windows) {
    if (usage.amountMinor > window.limit) return window.name;
    const rows = await transaction.$queryRaw<{ used_minor: string }[]>`
      INSERT INTO "limit_usage" ("user_id", "currency", "period", "period_start", "used_minor")
      VALUES (${usage.userId}::uuid, ${usage.currency}, ${window.period}, ${window.start}::date, ${usage.amountMinor.toString()}::numeric)
      ON CONFLICT ("user_id", "currency", "period", "period_start") DO UPDATE
        SET "used_minor" = "limit_usage"."used_minor" + EXCLUDED."used_minor"
        WHERE "limit_usage"."used_minor" + EXCLUDED."used_minor" <= ${window.limit.toString()}::numeric
      RETURNING "used_minor"::text`;
    if (rows.length === 0) return window.name;
  }
  return "ok";
}

/** Gives a payment's amount back to the day and month it was counted in. */
export async function releaseLimitUsage(transaction: Transaction, payment: PaymentRow): Promise<void> {
  if (!payment.senderUserId || !payment.limitDay || !payment.limitMonth) return;
  const amount = payment.amountMinor.toFixed();
  for (const [period, start] of [
    ["DAY", payment.limitDay],
    ["MONTH", payment.limitMonth],
  ] as const) {
    await transaction.$executeRaw`
      UPDATE "limit_usage" SET "used_minor" = GREATEST(0, "used_minor" - ${amount}::numeric)
      WHERE "user_id" = ${payment.senderUserId}::uuid AND "currency" = ${payment.currency}
        AND "period" = ${period} AND "period_start" = ${start}::date`;
  }
  await transaction.payment.update({ where: { id: payment.id }, data: { limitDay: null, limitMonth: null } });
}

export async function limitUsage(
  client: Client,
  userId: string,
  currency: string,
  dayStart: Date,
  monthStart: Date,
): Promise<{ daily: bigint; monthly: bigint }> {
  const rows = await client.limitUsage.findMany({
    where: {
      userId,
      currency,
      OR: [
        { period: "DAY", periodStart: dayStart },
        { period: "MONTH", periodStart: monthStart },
      ],
    },
  });
  const of = (period: LimitWindow) => BigInt(rows.find((row) => row.period === period)?.usedMinor.toFixed() ?? "0");
  return { daily: of("DAY"), monthly: of("MONTH") };
}

// ---------------------------------------------------------------------------------------
// Lists.

export interface PaymentFilter {
  userId: string;
  role: "SENDER" | "RECIPIENT" | "ANY";
  kinds: PaymentRow["kind"][];
  states: PaymentRow["state"][];
  currency?: string;
  startTime?: Date;
  endTime?: Date;
}

export async function listPayments(
  client: Client,
  filter: PaymentFilter,
  after: { createdAt: Date; id: string } | undefined,
  limit: number,
): Promise<PaymentWithHistory[]> {
  const sides =
    filter.role === "SENDER"
      ? [{ senderUserId: filter.userId }]
      : filter.role === "RECIPIENT"
        ? [{ recipientUserId: filter.userId }]
        : [{ senderUserId: filter.userId }, { recipientUserId: filter.userId }];
  return client.payment.findMany({
    where: {
      AND: [
        { OR: sides },
        filter.kinds.length > 0 ? { kind: { in: filter.kinds } } : {},
        filter.states.length > 0 ? { state: { in: filter.states } } : {},
        filter.currency ? { currency: filter.currency } : {},
        filter.startTime ? { createdAt: { gte: filter.startTime } } : {},
        filter.endTime ? { createdAt: { lt: filter.endTime } } : {},
        after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {},
      ],
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
    include: { history: { orderBy: { id: "asc" }, take: 100 } },
  });
}

export function newPaymentId(): string {
  return randomUUID();
}
