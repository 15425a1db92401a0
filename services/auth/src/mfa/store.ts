// Where second factors live: the storage interfaces the TOTP, recovery-code
// and passkey modules depend on, and their Postgres implementation on the auth
// Prisma client. Every check-and-change that must hold under parallel calls (a
// code used once, a step accepted once, a counter that only moves forward, at
// most N passkeys) is one conditional statement or one locked transaction
// here, never a read followed by a separate write.
import { randomUUID } from "node:crypto";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";

export interface StoredTotpCredential {
  id: string;
  userId: string;
  secretSealed: Uint8Array;
  /** Set while pending: the credential is unusable after it. */
  pendingExpiresAt: Date | null;
  /** Set once confirmed. */
  confirmedAt: Date | null;
  /** The time step of the newest accepted code. */
  lastUsedStep: number | null;
}

export interface TotpStore {
  /**
   * Stores a pending credential for the account, replacing a pending one;
   * returns false and changes nothing when the account has a confirmed one.
   */
  putPendingTotp(credential: { id: string; userId: string; secretSealed: Uint8Array; pendingExpiresAt: Date }): Promise<boolean>;
  findTotp(userId: string): Promise<StoredTotpCredential | null>;
  /**
   * In one transaction: confirms the pending credential `credentialId` if it is
   * still pending and unexpired at `now`, records `step` as used, and replaces
   * the account's recovery codes with `recoveryCodeHashes`. Returns false, and
   * changes nothing, when the credential is no longer pending (confirmed or
   * replaced by a parallel call, or expired).
   */
  confirmTotp(confirmation: {
    credentialId: string;
    userId: string;
    step: number;
    now: Date;
    recoveryCodeHashes: readonly Uint8Array[];
  }): Promise<boolean>;
  /** Records `step` as the newest accepted one if it is newer than the last; false when it is not (a replay). */
  advanceTotpStep(credentialId: string, step: number): Promise<boolean>;
  /** Deletes the account's TOTP credential and its recovery codes; false when there was none. */
  deleteTotp(userId: string): Promise<boolean>;
}

export interface RecoveryCodeStore {
  /** Marks one unused code of the account whose hash is among `hashes` as used; false when none is. */
  redeemRecoveryCode(userId: string, hashes: readonly Uint8Array[]): Promise<boolean>;
  countUnusedRecoveryCodes(userId: string): Promise<number>;
}

export interface StoredPasskey {
  id: string;
  userId: string;
  /** base64url */
  credentialId: string;
  /** COSE_Key bytes. */
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  aaguid: string;
  deviceType: "singleDevice" | "multiDevice";
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export type NewPasskey = Omit<StoredPasskey, "createdAt" | "lastUsedAt">;

export interface PasskeyStore {
  /** The account's passkeys, newest first, at most `limit`. */
  listPasskeys(userId: string, limit: number): Promise<StoredPasskey[]>;
  countPasskeys(userId: string): Promise<number>;
  findPasskeyByCredentialId(credentialId: string): Promise<StoredPasskey | null>;
  /**
   * Stores the passkey unless the account already has `perUserMax` of them
   * ("limit-reached") or the credential id is registered ("duplicate").
   * Serialised per account, so parallel registrations cannot pass the limit.
   */
  insertPasskey(passkey: NewPasskey, perUserMax: number): Promise<StoredPasskey | "limit-reached" | "duplicate">;
  /**
   * Records a verified use: stores `signCount` and the backup state if the
   * counter moved forward, or if it stays 0 (an authenticator without a
   * counter). Returns false, changing nothing, when the counter did not move
   * forward: the caller treats that as a possibly cloned key.
   */
  recordPasskeyUse(use: { id: string; signCount: number; backedUp: boolean; usedAt: Date }): Promise<boolean>;
}

export interface SecondFactorStore extends TotpStore, RecoveryCodeStore, PasskeyStore {}

type PasskeyRow = Prisma.PasskeyCredentialModel;

function toStoredPasskey(row: PasskeyRow): StoredPasskey {
  return {
    ...row,
    signCount: Number(row.signCount),
    deviceType: row.deviceType === "multiDevice" ? "multiDevice" : "singleDevice",
  };
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

/**
 * The Postgres store. It takes the auth service's Prisma client rather than a
 * pool, so the second factors and the core store share one client and pool.
 */
export function createSecondFactorStore(prisma: PrismaClient): SecondFactorStore {
  return {
    async putPendingTotp(credential) {
      // One statement: a confirmed credential is never overwritten, even by a
      // SetupTotp racing a ConfirmTotp.
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        INSERT INTO totp_credential (id, user_id, secret_sealed, pending_expires_at)
        VALUES (${credential.id}::uuid, ${credential.userId}::uuid, ${Buffer.from(credential.secretSealed)}, ${credential.pendingExpiresAt})
        ON CONFLICT (user_id) DO UPDATE
          SET id = EXCLUDED.id,
              secret_sealed = EXCLUDED.secret_sealed,
              pending_expires_at = EXCLUDED.pending_expires_at,
              created_at = CURRENT_TIMESTAMP,
              last_used_step = NULL
          WHERE totp_credential.confirmed_at IS NULL
        RETURNING id`;
      return rows.length === 1;
    },

    async findTotp(userId) {
      const row = await prisma.totpCredential.findUnique({ where: { userId } });
      if (row === null) return null;
      return { ...row, lastUsedStep: row.lastUsedStep === null ? null : Number(row.lastUsedStep) };
    },

    confirmTotp({ credentialId, userId, step, now, recoveryCodeHashes }) {
      return prisma.$transaction(async (transaction) => {
        const confirmed = await transaction.totpCredential.updateMany({
          where: { id: credentialId, userId, confirmedAt: null, pendingExpiresAt: { gt: now } },
          data: { confirmedAt: now, pendingExpiresAt: null, lastUsedStep: BigInt(step) },
        });
        if (confirmed.count !== 1) return false;
        await transaction.recoveryCode.deleteMany({ where: { userId } });
        await transaction.recoveryCode.createMany({
          data: recoveryCodeHashes.map((hash) => ({ id: randomUUID(), userId, codeHash: Buffer.from(hash) })),
        });
        return true;
      });
    },

    async advanceTotpStep(credentialId, step) {
      const advanced = await prisma.totpCredential.updateMany({
        where: {
          id: credentialId,
          confirmedAt: { not: null },
          OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }],
        },
        data: { lastUsedStep: BigInt(step) },
      });
      return advanced.count === 1;
    },

    deleteTotp(userId) {
      return prisma.$transaction(async (transaction) => {
        await transaction.recoveryCode.deleteMany({ where: { userId } });
        const deleted = await transaction.totpCredential.deleteMany({ where: { userId } });
        return deleted.count > 0;
      });
    },

    async redeemRecoveryCode(userId, hashes) {
      if (hashes.length === 0) return false;
      // Under READ COMMITTED a parallel redemption of the same code waits for
      // this row's lock, re-checks used_at IS NULL, and updates nothing.
      const rows = await prisma.$queryRaw<{ id: string }[]>`
        UPDATE recovery_code SET used_at = CURRENT_TIMESTAMP
        WHERE id = (
          SELECT id FROM recovery_code
          WHERE user_id = ${userId}::uuid AND code_hash = ANY(${hashes.map((hash) => Buffer.from(hash))}::bytea[]) AND used_at IS NULL
          LIMIT 1
        ) AND used_at IS NULL
        RETURNING id`;
      return rows.length === 1;
    },

    countUnusedRecoveryCodes(userId) {
      return prisma.recoveryCode.count({ where: { userId, usedAt: null } });
    },

    async listPasskeys(userId, limit) {
      const rows = await prisma.passkeyCredential.findMany({ where: { userId }, orderBy: { createdAt: "desc" }, take: limit });
      return rows.map(toStoredPasskey);
    },

    countPasskeys(userId) {
      return prisma.passkeyCredential.count({ where: { userId } });
    },

    async findPasskeyByCredentialId(credentialId) {
      const row = await prisma.passkeyCredential.findUnique({ where: { credentialId } });
      return row === null ? null : toStoredPasskey(row);
    },

    async insertPasskey(passkey, perUserMax) {
      try {
        return await prisma.$transaction(async (transaction) => {
          // Serialises registrations per account for the count below; the lock
          // ends with the transaction.
          await transaction.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`passkey_credential:${passkey.userId}`}, 0))`;
          if ((await transaction.passkeyCredential.count({ where: { userId: passkey.userId } })) >= perUserMax) return "limit-reached";
          if ((await transaction.passkeyCredential.count({ where: { credentialId: passkey.credentialId } })) > 0) return "duplicate";
          const row = await transaction.passkeyCredential.create({
            data: { ...passkey, publicKey: Buffer.from(passkey.publicKey), signCount: BigInt(passkey.signCount) },
          });
          return toStoredPasskey(row);
        });
      } catch (error) {
        // Another account registered the same credential id at the same moment.
        if (isUniqueViolation(error)) return "duplicate";
        throw error;
      }
    },

    async recordPasskeyUse({ id, signCount, backedUp, usedAt }) {
      const counter = BigInt(signCount);
      const recorded = await prisma.passkeyCredential.updateMany({
        where: signCount === 0 ? { id, signCount: 0n } : { id, signCount: { lt: counter } },
        data: { signCount: counter, backedUp, lastUsedAt: usedAt },
      });
      return recorded.count === 1;
    },
  };
}
