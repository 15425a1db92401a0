// Payment methods, masked. A card's number and security code never reach this
// module; a US account number arrives already sealed.
import type { PaymentMethod as MethodRow, Prisma as PrismaNamespace } from "../generated/prisma/client.ts";
import type { Client, Transaction } from "./prisma.ts";

export type { MethodRow };

export async function findMethod(client: Client, id: string): Promise<MethodRow | null> {
  return client.paymentMethod.findUnique({ where: { id } });
}

export async function insertMethod(
  transaction: Transaction,
  method: PrismaNamespace.PaymentMethodUncheckedCreateInput,
): Promise<MethodRow> {
  return transaction.paymentMethod.create({ data: method });
}

export async function listMethods(
  client: Client,
  userId: string,
  filter: { type?: MethodRow["type"]; includeRemoved: boolean },
  after: { createdAt: Date; id: string } | undefined,
  limit: number,
): Promise<MethodRow[]> {
  return client.paymentMethod.findMany({
    where: {
      AND: [
        { userId },
        filter.type ? { type: filter.type } : {},
        filter.includeRemoved ? {} : { removedAt: null },
        after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {},
      ],
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

/** Marks the method removed once; returns it as it now stands. */
export async function removeMethod(client: Client, id: string): Promise<MethodRow | null> {
  await client.paymentMethod.updateMany({ where: { id, removedAt: null }, data: { removedAt: new Date() } });
  return findMethod(client, id);
}
