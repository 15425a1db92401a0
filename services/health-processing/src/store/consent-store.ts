// Consent history: append-only records, and the newest record and grant per type.
import { randomUUID } from "node:crypto";
import type { ConsentAction, ConsentSource, ConsentType } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type { ConsentHistoryEntry } from "../consent/consent-status.ts";
import {
  fromDbConsentAction,
  fromDbConsentSource,
  fromDbConsentType,
  toDbConsentAction,
  toDbConsentSource,
  toDbConsentType,
} from "./enums.ts";
import type { Prisma, Transaction } from "./prisma.ts";

export interface StoredConsentRecord extends ConsentHistoryEntry {
  id: string;
  source: ConsentSource;
}

type Client = Prisma | Transaction;

function toStored(row: {
  id: string;
  type: Parameters<typeof fromDbConsentType>[0];
  action: Parameters<typeof fromDbConsentAction>[0];
  version: string;
  source: Parameters<typeof fromDbConsentSource>[0];
  recordedAt: Date;
}): StoredConsentRecord {
  return {
    id: row.id,
    type: fromDbConsentType(row.type),
    action: fromDbConsentAction(row.action),
    version: row.version,
    source: fromDbConsentSource(row.source),
    recordedAt: row.recordedAt,
  };
}

/** The newest record of each type, and the newest grant of each type. */
export async function latestConsents(
  client: Client,
  userId: string,
): Promise<{ latest: StoredConsentRecord[]; latestGrants: StoredConsentRecord[] }> {
  const order = [{ type: "asc" as const }, { recordedAt: "desc" as const }];
  const [latest, latestGrants] = await Promise.all([
    client.consentRecord.findMany({ where: { userId }, orderBy: order, distinct: ["type"] }),
    client.consentRecord.findMany({ where: { userId, action: "GRANTED" }, orderBy: order, distinct: ["type"] }),
  ]);
  return { latest: latest.map(toStored), latestGrants: latestGrants.map(toStored) };
}

export async function consentHistory(client: Client, userId: string, limit: number): Promise<StoredConsentRecord[]> {
  if (limit <= 0) return [];
  const rows = await client.consentRecord.findMany({ where: { userId }, orderBy: [{ recordedAt: "desc" }, { id: "desc" }], take: limit });
  return rows.map(toStored);
}

/**
 * Appends records at one time strictly after the user's newest record, so the
 * order of two changes in the same millisecond is never ambiguous. The caller
 * holds the user's lock.
 */
export async function appendConsents(
  transaction: Transaction,
  userId: string,
  entries: readonly { type: ConsentType; action: ConsentAction; version: string; source: ConsentSource }[],
): Promise<StoredConsentRecord[]> {
  const newest = await transaction.consentRecord.findFirst({
    where: { userId },
    orderBy: { recordedAt: "desc" },
    select: { recordedAt: true },
  });
  const now = Date.now();
  const recordedAt = new Date(newest && newest.recordedAt.getTime() >= now ? newest.recordedAt.getTime() + 1 : now);
  const rows = entries.map((entry) => ({
    id: randomUUID(),
    userId,
    type: toDbConsentType(entry.type),
    action: toDbConsentAction(entry.action),
    version: entry.version,
    source: toDbConsentSource(entry.source),
    recordedAt,
  }));
  await transaction.consentRecord.createMany({ data: rows });
  return rows.map(toStored);
}
