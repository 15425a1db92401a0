// Requests for money.
import type { Prisma as PrismaNamespace, PaymentRequest as RequestRow } from "../generated/prisma/client.ts";
import type { Client, Transaction } from "./prisma.ts";

export type { RequestRow };

export async function findRequest(client: Client, id: string): Promise<RequestRow | null> {
  return client.paymentRequest.findUnique({ where: { id } });
}

export async function lockRequest(transaction: Transaction, id: string): Promise<RequestRow | null> {
  const rows = await transaction.$queryRaw<{ id: string }[]>`SELECT "id" FROM "payment_request" WHERE "id" = ${id}::uuid FOR UPDATE`;
  if (rows.length === 0) return null;
  return transaction.paymentRequest.findUnique({ where: { id } });
}

export async function insertRequest(
  transaction: Transaction,
  request: PrismaNamespace.PaymentRequestUncheckedCreateInput,
): Promise<RequestRow> {
  return transaction.paymentRequest.create({ data: request });
}

export async function updateRequest(
  client: Client,
  id: string,
  data: PrismaNamespace.PaymentRequestUncheckedUpdateInput,
): Promise<RequestRow> {
  return client.paymentRequest.update({ where: { id }, data: { ...data, updatedAt: new Date() } });
}

export async function listRequests(
  client: Client,
  userId: string,
  filter: { role: "REQUESTER" | "PAYER" | "ANY"; states: RequestRow["state"][] },
  after: { createdAt: Date; id: string } | undefined,
  limit: number,
): Promise<RequestRow[]> {
  const sides =
    filter.role === "REQUESTER"
      ? [{ requesterUserId: userId }]
      : filter.role === "PAYER"
        ? [{ payerUserId: userId }]
        : [{ requesterUserId: userId }, { payerUserId: userId }];
  return client.paymentRequest.findMany({
    where: {
      AND: [
        { OR: sides },
        filter.states.length > 0 ? { state: { in: filter.states } } : {},
        after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {},
      ],
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

/** Open requests past their time with no payment in flight become EXPIRED; a bounded batch. */
export async function expireRequests(client: Client, batchMax: number): Promise<number> {
  return client.$executeRaw`
    UPDATE "payment_request" SET "state" = 'EXPIRED', "updated_at" = now()
    WHERE "id" IN (
      SELECT "id" FROM "payment_request"
      WHERE "state" = 'OPEN' AND "payment_id" IS NULL AND "expires_at" <= now()
      LIMIT ${batchMax}
      FOR UPDATE SKIP LOCKED)`;
}
