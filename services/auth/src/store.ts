// The only place auth touches Prisma.
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { PrismaClient } from "./generated/prisma/client.ts";

export interface StoredSigningKey {
  kid: string;
  publicJwk: Record<string, string>;
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface AuthStore {
  /** Keys still published: the signing one and retired ones not yet past their tokens' lifetime. */
  publishedSigningKeys(retiredAfter: Date): Promise<StoredSigningKey[]>;
  /**
   * Runs create() and stores its key unless another replica already stored an
   * active one; serialised by an advisory lock so replicas starting together
   * end up with one signing key.
   */
  ensureActiveSigningKey(create: () => Promise<StoredSigningKey>): Promise<StoredSigningKey>;
  close(): Promise<void>;
}

/** Advisory lock id for signing-key creation (any constant unique within auth's database). */
const signingKeyLockId = 0x5349_474e;

function toStored(row: {
  kid: string;
  publicJwk: unknown;
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
}): StoredSigningKey {
  return { ...row, publicJwk: row.publicJwk as Record<string, string> };
}

export function createAuthStore(pool: pg.Pool): AuthStore {
  const prisma = createPrismaClient(PrismaClient, { pool });
  return {
    async publishedSigningKeys(retiredAfter) {
      const rows = await prisma.signingKey.findMany({
        where: { OR: [{ retiredAt: null }, { retiredAt: { gt: retiredAfter } }] },
        orderBy: { createdAt: "desc" },
      });
      return rows.map(toStored);
    },
    ensureActiveSigningKey(create) {
      return prisma.$transaction(async (transaction) => {
        await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${signingKeyLockId})`;
        const active = await transaction.signingKey.findFirst({ where: { retiredAt: null }, orderBy: { createdAt: "desc" } });
        if (active) return toStored(active);
        const fresh = await create();
        await transaction.signingKey.create({
          data: {
            kid: fresh.kid,
            publicJwk: fresh.publicJwk,
            privateKeySealed: Buffer.from(fresh.privateKeySealed),
            createdAt: fresh.createdAt,
          },
        });
        return fresh;
      });
    },
    close: () => prisma.$disconnect(),
  };
}
