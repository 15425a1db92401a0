// The only place credential touches Prisma.
import { randomInt, randomUUID } from "node:crypto";
import { createPrismaClient } from "@trustmesh/runtime/db";
import type pg from "pg";
import { type Prisma, PrismaClient } from "./generated/prisma/client.ts";
import type { CredentialEncoding, CredentialKind, CredentialState, KeyCustody, StatusListKind } from "./generated/prisma/enums.ts";
import type { StatusEntry } from "./status-list-encoding.ts";

export interface StoredIssuerKey {
  kid: string;
  publicJwk: { kty: string; crv: string; x: string };
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface StoredHolderDid {
  did: string;
  userId: string;
  keyCustody: KeyCustody;
  walletAddress: string | null;
  primary: boolean;
  createdAt: Date;
  requestHash: Uint8Array | null;
}

export interface StoredCredential {
  id: string;
  userId: string;
  holderDid: string;
  issuerDid: string;
  issuerKeyId: string;
  kind: CredentialKind;
  encoding: CredentialEncoding;
  claims: Record<string, unknown>;
  encoded: string;
  validFrom: Date;
  validUntil: Date;
  issuedAt: Date;
  state: CredentialState;
  statusReason: string | null;
  statusChangedAt: Date | null;
  statusListId: string;
  statusListKind: StatusListKind;
  statusListIndex: number;
  requestHash: Uint8Array;
}

/** A new holder DID, with its sealed private key when the service keeps it. */
export interface NewHolderDid {
  did: string;
  keyCustody: KeyCustody;
  privateKeySealed: Uint8Array | null;
  walletAddress: string | null;
}

export interface CreateDidInput {
  userId: string;
  /** Makes the DID (a new key, or a holder's proven key); run only when the request is not a replay. */
  prepare(): Promise<NewHolderDid>;
  /** Make it the user's primary DID (a user's first DID is primary regardless). */
  primary: boolean;
  idempotencyScope: string;
  idempotencyKey: string;
  requestHash: Uint8Array;
}

export type CreateDidOutcome =
  | { outcome: "created"; did: StoredHolderDid }
  | { outcome: "replayed"; did: StoredHolderDid }
  /** The DID (its public key) is registered already, under another key or user. */
  | { outcome: "taken" };

/** What signing needs to know once the store has chosen the holder and the status-list entry. */
export interface IssuanceSlot {
  credentialId: string;
  holder: StoredHolderDid;
  statusListId: string;
  statusListIndex: number;
}

export interface SignedCredential {
  issuerDid: string;
  issuerKeyId: string;
  encoded: string;
  claims: Record<string, unknown>;
  validFrom: Date;
  validUntil: Date;
}

export interface IssueInput {
  userId: string;
  /** A DID of the user to issue to; undefined means the user's primary DID (created when missing). */
  holderDid: string | undefined;
  kind: CredentialKind;
  encoding: CredentialEncoding;
  idempotencyScope: string;
  idempotencyKey: string;
  requestHash: Uint8Array;
  /** Entries per new status list. */
  statusListSize: number;
  /** Makes a holder DID (service custody) for a user who has none. */
  createHolder(): Promise<NewHolderDid>;
  /** Signs the credential for the chosen slot, inside the issuing transaction. */
  sign(slot: IssuanceSlot): Promise<SignedCredential>;
}

export type IssueOutcome =
  | { outcome: "issued"; credential: StoredCredential; holderCreated: boolean }
  | { outcome: "replayed"; credential: StoredCredential }
  | { outcome: "holder_not_found" };

export type CredentialFilterStatus = "ACTIVE" | "SUSPENDED" | "REVOKED" | "EXPIRED";

export interface CredentialQuery {
  /** Restricts to one user's credentials (always set for non-admin callers). */
  userId?: string;
  holderDid?: string;
  walletAddress?: string;
  kind?: CredentialKind;
  encoding?: CredentialEncoding;
  status?: CredentialFilterStatus;
  now: Date;
  /** Credentials strictly older than this cursor (newest first). */
  after?: { issuedAt: Date; id: string };
  limit: number;
}

export type StatusAction = "revoke" | "suspend" | "reinstate";

export type StatusChangeOutcome =
  | { outcome: "changed"; credential: StoredCredential; from: CredentialState }
  | { outcome: "unchanged"; credential: StoredCredential }
  | { outcome: "refused"; credential: StoredCredential }
  | { outcome: "not_found" };

export interface StatusListSnapshot {
  id: string;
  kind: StatusListKind;
  size: number;
  version: bigint;
  /** Entries that are not active; every other index is. */
  entries: StatusEntry[];
}

export interface CredentialStore {
  /** The key that signs now, in one indexed read; undefined before the first one is made. */
  activeIssuerKey(): Promise<StoredIssuerKey | undefined>;
  ensureActiveIssuerKey(create: () => Promise<StoredIssuerKey>): Promise<StoredIssuerKey>;
  /** Retires the active key and stores a new one, unless the active key is younger than minAgeMs; undefined when nothing changed. */
  rotateIssuerKey(create: () => Promise<StoredIssuerKey>, minAgeMs: number): Promise<StoredIssuerKey | undefined>;
  issuerKey(kid: string): Promise<StoredIssuerKey | undefined>;
  issuerKeys(): Promise<StoredIssuerKey[]>;
  createDid(input: CreateDidInput): Promise<CreateDidOutcome>;
  issue(input: IssueInput): Promise<IssueOutcome>;
  credential(id: string): Promise<StoredCredential | undefined>;
  listCredentials(query: CredentialQuery): Promise<StoredCredential[]>;
  changeStatus(id: string, action: StatusAction, reason: string, actor: string, now: Date): Promise<StatusChangeOutcome>;
  statusListVersion(id: string): Promise<bigint | undefined>;
  statusListSnapshot(id: string): Promise<StatusListSnapshot | undefined>;
  close(): Promise<void>;
}

/** Advisory lock ids (any constants unique within credential's database). */
const issuerKeyLockId = 0x4953_5355;

/** Draws of a random free index before giving up; at most half full, 32 misses in a row have odds of 2^-32. */
const indexDrawsMax = 32;
/** Bound on one issuing transaction, which holds its status list's row lock. */
const issueTransactionTimeoutMs = 10_000;

type Transaction = Prisma.TransactionClient;

type CredentialRow = Prisma.CredentialGetPayload<{ include: { statusList: { select: { kind: true } } } }>;

function toIssuerKey(row: {
  kid: string;
  publicJwk: unknown;
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
}): StoredIssuerKey {
  return { ...row, publicJwk: row.publicJwk as StoredIssuerKey["publicJwk"] };
}

function toHolderDid(row: Prisma.HolderDidGetPayload<object>): StoredHolderDid {
  return {
    did: row.did,
    userId: row.userId,
    keyCustody: row.keyCustody,
    walletAddress: row.walletAddress,
    primary: row.primary,
    createdAt: row.createdAt,
    requestHash: row.requestHash,
  };
}

function toCredential(row: CredentialRow): StoredCredential {
  return {
    id: row.id,
    userId: row.userId,
    holderDid: row.holderDid,
    issuerDid: row.issuerDid,
    issuerKeyId: row.issuerKeyId,
    kind: row.kind,
    encoding: row.encoding,
    claims: row.claims as Record<string, unknown>,
    encoded: row.encoded,
    validFrom: row.validFrom,
    validUntil: row.validUntil,
    issuedAt: row.issuedAt,
    state: row.state,
    statusReason: row.statusReason,
    statusChangedAt: row.statusChangedAt,
    statusListId: row.statusListId,
    statusListKind: row.statusList.kind,
    statusListIndex: row.statusListIndex,
    requestHash: row.requestHash,
  };
}

const withListKind = { statusList: { select: { kind: true } } } as const;

/** The state a status action leads to from a state, or "refused" / "unchanged". */
export function transitionOf(action: StatusAction, from: CredentialState): CredentialState | "refused" | "unchanged" {
  switch (action) {
    case "revoke":
      return from === "REVOKED" ? "unchanged" : "REVOKED";
    case "suspend":
      return from === "REVOKED" ? "refused" : from === "SUSPENDED" ? "unchanged" : "SUSPENDED";
    case "reinstate":
      return from === "REVOKED" ? "refused" : from === "ACTIVE" ? "unchanged" : "ACTIVE";
  }
}

function statusWhere(status: CredentialFilterStatus, now: Date): Prisma.CredentialWhereInput {
  switch (status) {
    case "ACTIVE":
      return { state: "ACTIVE", validUntil: { gt: now } };
    case "SUSPENDED":
      return { state: "SUSPENDED", validUntil: { gt: now } };
    case "REVOKED":
      return { state: "REVOKED" };
    case "EXPIRED":
      return { state: { not: "REVOKED" }, validUntil: { lte: now } };
  }
}

/** Serialises work on one key (a user's DIDs, an idempotency key) until the transaction ends. */
async function lockKey(transaction: Transaction, key: string): Promise<void> {
  await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
}

/** The user's primary DID, made (service custody) when the user has none. */
async function primaryHolder(
  transaction: Transaction,
  userId: string,
  createHolder: () => Promise<NewHolderDid>,
): Promise<{ holder: StoredHolderDid; created: boolean }> {
  await lockKey(transaction, `holder:${userId}`);
  const primary = await transaction.holderDid.findFirst({ where: { userId, primary: true } });
  if (primary) return { holder: toHolderDid(primary), created: false };
  const fresh = await createHolder();
  const row = await transaction.holderDid.create({
    data: {
      did: fresh.did,
      userId,
      keyCustody: fresh.keyCustody,
      privateKeySealed: fresh.privateKeySealed === null ? null : Buffer.from(fresh.privateKeySealed),
      walletAddress: fresh.walletAddress,
      primary: true,
    },
  });
  return { holder: toHolderDid(row), created: true };
}

/**
 * Lists of a kind that take new credentials at the same time. Each issuance locks
 * its list's row while it draws an index, so concurrent issuances spread over a
 * few lists instead of queueing on one. (A soft bound: lists created by
 * transactions not yet committed are not seen by others.)
 */
const openListsPerKind = 4;

/** A random free index in an open list of the kind (creating a list when none has room), with the list locked. */
async function allocateStatusEntry(
  transaction: Transaction,
  kind: StatusListKind,
  size: number,
): Promise<{ statusListId: string; statusListIndex: number }> {
  // A list takes credentials until half its entries are used, so random indexes stay cheap to draw and say nothing.
  // First an open list nobody is drawing from; else, below the bound, a new list; else wait for one.
  const unlocked = await transaction.$queryRaw<{ id: string; size: number }[]>`
    SELECT id, size FROM status_list
     WHERE kind = ${kind}::status_list_kind AND allocated * 2 < size
     ORDER BY random()
     LIMIT 1
       FOR UPDATE SKIP LOCKED`;
  let list = unlocked[0];
  if (!list) {
    const open = await transaction.$queryRaw<{ id: string; size: number }[]>`
      SELECT id, size FROM status_list WHERE kind = ${kind}::status_list_kind AND allocated * 2 < size`;
    if (open.length < openListsPerKind) {
      list = await transaction.statusList.create({ data: { id: randomUUID(), kind, size }, select: { id: true, size: true } });
    } else {
      const chosen = open[randomInt(open.length)] as { id: string; size: number };
      await transaction.$queryRaw`SELECT id FROM status_list WHERE id = ${chosen.id}::uuid FOR UPDATE`;
      list = chosen;
    }
  }
  for (let draw = 0; draw < indexDrawsMax; draw++) {
    const index = randomInt(list.size);
    const taken = await transaction.credential.findUnique({
      where: { statusListId_statusListIndex: { statusListId: list.id, statusListIndex: index } },
      select: { id: true },
    });
    if (taken) continue;
    await transaction.statusList.update({ where: { id: list.id }, data: { allocated: { increment: 1 } } });
    return { statusListId: list.id, statusListIndex: index };
  }
  throw new Error(`no free status index found in ${indexDrawsMax} draws in list ${list.id}`);
}

export function createCredentialStore(pool: pg.Pool): CredentialStore {
  const prisma = createPrismaClient(PrismaClient, { pool });

  return {
    async activeIssuerKey() {
      const row = await prisma.issuerKey.findFirst({ where: { retiredAt: null } });
      return row ? toIssuerKey(row) : undefined;
    },
    ensureActiveIssuerKey(create) {
      return prisma.$transaction(async (transaction) => {
        // Replicas starting together end up with one key: the first creates it, the rest find it.
        await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${issuerKeyLockId})`;
        const active = await transaction.issuerKey.findFirst({ where: { retiredAt: null } });
        if (active) return toIssuerKey(active);
        const fresh = await create();
        await transaction.issuerKey.create({
          data: { ...fresh, privateKeySealed: Buffer.from(fresh.privateKeySealed), publicJwk: fresh.publicJwk },
        });
        return fresh;
      });
    },
    rotateIssuerKey(create, minAgeMs) {
      return prisma.$transaction(async (transaction) => {
        await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${issuerKeyLockId})`;
        const active = await transaction.issuerKey.findFirst({ where: { retiredAt: null } });
        const now = new Date();
        if (active && now.getTime() - active.createdAt.getTime() < minAgeMs) return undefined;
        if (active) await transaction.issuerKey.update({ where: { kid: active.kid }, data: { retiredAt: now } });
        const fresh = await create();
        await transaction.issuerKey.create({
          data: { ...fresh, privateKeySealed: Buffer.from(fresh.privateKeySealed), publicJwk: fresh.publicJwk },
        });
        return fresh;
      });
    },
    async issuerKey(kid) {
      const row = await prisma.issuerKey.findUnique({ where: { kid } });
      return row ? toIssuerKey(row) : undefined;
    },
    async issuerKeys() {
      return (await prisma.issuerKey.findMany({ orderBy: { createdAt: "desc" } })).map(toIssuerKey);
    },

    createDid(input) {
      return prisma.$transaction(async (transaction): Promise<CreateDidOutcome> => {
        await lockKey(transaction, `idempotency:${input.idempotencyScope}:${input.idempotencyKey}`);
        const earlier = await transaction.holderDid.findUnique({
          where: { idempotencyScope_idempotencyKey: { idempotencyScope: input.idempotencyScope, idempotencyKey: input.idempotencyKey } },
        });
        if (earlier) return { outcome: "replayed", did: toHolderDid(earlier) };
        const fresh = await input.prepare();
        await lockKey(transaction, `holder:${input.userId}`);
        if (await transaction.holderDid.findUnique({ where: { did: fresh.did }, select: { did: true } })) return { outcome: "taken" };
        const hasPrimary = (await transaction.holderDid.count({ where: { userId: input.userId, primary: true } })) > 0;
        const primary = input.primary || !hasPrimary;
        if (primary && hasPrimary) {
          await transaction.holderDid.updateMany({ where: { userId: input.userId, primary: true }, data: { primary: false } });
        }
        const row = await transaction.holderDid.create({
          data: {
            did: fresh.did,
            userId: input.userId,
            keyCustody: fresh.keyCustody,
            privateKeySealed: fresh.privateKeySealed === null ? null : Buffer.from(fresh.privateKeySealed),
            walletAddress: fresh.walletAddress,
            primary,
            idempotencyScope: input.idempotencyScope,
            idempotencyKey: input.idempotencyKey,
            requestHash: Buffer.from(input.requestHash),
          },
        });
        return { outcome: "created", did: toHolderDid(row) };
      });
    },

    issue(input) {
      return prisma.$transaction(
        async (transaction): Promise<IssueOutcome> => {
          // Deliveries of one event serialise here; the second finds the first's credential.
          await lockKey(transaction, `idempotency:${input.idempotencyScope}:${input.idempotencyKey}`);
          const earlier = await transaction.credential.findUnique({
            where: { idempotencyScope_idempotencyKey: { idempotencyScope: input.idempotencyScope, idempotencyKey: input.idempotencyKey } },
            include: withListKind,
          });
          if (earlier) return { outcome: "replayed", credential: toCredential(earlier) };

          let holder: StoredHolderDid;
          let holderCreated = false;
          if (input.holderDid === undefined) {
            ({ holder, created: holderCreated } = await primaryHolder(transaction, input.userId, input.createHolder));
          } else {
            const row = await transaction.holderDid.findFirst({ where: { did: input.holderDid, userId: input.userId } });
            if (!row) return { outcome: "holder_not_found" };
            holder = toHolderDid(row);
          }

          const listKind: StatusListKind = input.encoding === "VC_JWT" ? "BITSTRING" : "TOKEN";
          const entry = await allocateStatusEntry(transaction, listKind, input.statusListSize);
          const credentialId = randomUUID();
          const signed = await input.sign({ credentialId, holder, ...entry });
          const row = await transaction.credential.create({
            data: {
              id: credentialId,
              userId: input.userId,
              holderDid: holder.did,
              issuerDid: signed.issuerDid,
              issuerKeyId: signed.issuerKeyId,
              kind: input.kind,
              encoding: input.encoding,
              claims: signed.claims as Prisma.InputJsonObject,
              encoded: signed.encoded,
              validFrom: signed.validFrom,
              validUntil: signed.validUntil,
              statusListId: entry.statusListId,
              statusListIndex: entry.statusListIndex,
              idempotencyScope: input.idempotencyScope,
              idempotencyKey: input.idempotencyKey,
              requestHash: Buffer.from(input.requestHash),
            },
            include: withListKind,
          });
          return { outcome: "issued", credential: toCredential(row), holderCreated };
        },
        { timeout: issueTransactionTimeoutMs, maxWait: issueTransactionTimeoutMs },
      );
    },

    async credential(id) {
      const row = await prisma.credential.findUnique({ where: { id }, include: withListKind });
      return row ? toCredential(row) : undefined;
    },

    async listCredentials(query) {
      const where: Prisma.CredentialWhereInput[] = [];
      if (query.userId !== undefined) where.push({ userId: query.userId });
      if (query.holderDid !== undefined) where.push({ holderDid: query.holderDid });
      if (query.walletAddress !== undefined) where.push({ holder: { walletAddress: query.walletAddress } });
      if (query.kind !== undefined) where.push({ kind: query.kind });
      if (query.encoding !== undefined) where.push({ encoding: query.encoding });
      if (query.status !== undefined) where.push(statusWhere(query.status, query.now));
      if (query.after !== undefined) {
        const { issuedAt, id } = query.after;
        where.push({ OR: [{ issuedAt: { lt: issuedAt } }, { issuedAt, id: { lt: id } }] });
      }
      const rows = await prisma.credential.findMany({
        where: { AND: where },
        orderBy: [{ issuedAt: "desc" }, { id: "desc" }],
        take: query.limit,
        include: withListKind,
      });
      return rows.map(toCredential);
    },

    changeStatus(id, action, reason, actor, now) {
      return prisma.$transaction(async (transaction): Promise<StatusChangeOutcome> => {
        const locked = await transaction.$queryRaw<{ state: CredentialState }[]>`
          SELECT state FROM credential WHERE id = ${id}::uuid FOR UPDATE`;
        const from = locked[0]?.state;
        if (from === undefined) return { outcome: "not_found" };
        const to = transitionOf(action, from);
        if (to === "refused" || to === "unchanged") {
          const current = await transaction.credential.findUniqueOrThrow({ where: { id }, include: withListKind });
          return { outcome: to, credential: toCredential(current) };
        }
        const row = await transaction.credential.update({
          where: { id },
          data: { state: to, statusReason: reason, statusChangedAt: now },
          include: withListKind,
        });
        await transaction.credentialStatusChange.create({ data: { credentialId: id, fromState: from, toState: to, reason, actor } });
        // A new version of the list: its published form (and ETag) changes.
        await transaction.statusList.update({ where: { id: row.statusListId }, data: { version: { increment: 1 }, updatedAt: now } });
        return { outcome: "changed", credential: toCredential(row), from };
      });
    },

    async statusListVersion(id) {
      return (await prisma.statusList.findUnique({ where: { id }, select: { version: true } }))?.version;
    },

    statusListSnapshot(id) {
      // One snapshot: the version and the entries it describes, read in one transaction.
      return prisma.$transaction(
        async (transaction) => {
          const list = await transaction.statusList.findUnique({ where: { id } });
          if (!list) return undefined;
          const entries = await transaction.credential.findMany({
            where: { statusListId: id, state: { not: "ACTIVE" } },
            select: { statusListIndex: true, state: true },
          });
          return {
            id: list.id,
            kind: list.kind,
            size: list.size,
            version: list.version,
            entries: entries.map((entry) => ({ index: entry.statusListIndex, state: entry.state })),
          };
        },
        { isolationLevel: "RepeatableRead" },
      );
    },

    close: () => prisma.$disconnect(),
  };
}
