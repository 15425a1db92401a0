// The only place auth touches Prisma. Every method is one statement or one
// transaction, so each state change commits together with the audit event or
// outbox event it causes.
import { randomUUID } from "node:crypto";
import { type AuthSession, Prisma, type PrismaClient, type UserAccount } from "./generated/prisma/client.ts";

export type { AuthSession, UserAccount };

export interface StoredSigningKey {
  kid: string;
  publicJwk: Record<string, string>;
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
  version: string;
}

/** A security event for the append-only audit table. */
export interface AuditRecord {
  kind: AuditKind;
  userId?: string | null;
  sessionId?: string | null;
  ipAddress?: string;
  userAgent?: string;
  detail?: Record<string, string | number | boolean>;
}

export type AuditKind =
  | "sign_up"
  | "sign_up_existing_contact"
  | "login_succeeded"
  | "login_failed"
  | "login_refused_unverified"
  | "mfa_challenge_issued"
  | "mfa_succeeded"
  | "mfa_failed"
  | "passkey_counter_regressed"
  | "totp_enabled"
  | "totp_disabled"
  | "passkey_registered"
  | "refresh_token_reuse"
  | "account_locked"
  | "password_changed"
  | "password_rehashed"
  | "password_reset_requested"
  | "password_reset_completed"
  | "contact_verified"
  | "session_revoked"
  | "service_token_issued"
  | "service_token_refused";

export type ContactField = "email" | "phoneNumber";

export interface NewSession {
  id: string;
  userId: string;
  deviceName: string;
  userAgent: string;
  ipAddress: string;
  authenticationMethods: string[];
  expiresAt: Date;
  refreshTokenHash: Buffer;
  refreshTokenExpiresAt: Date;
}

export type RotationResult =
  | { kind: "rotated"; session: AuthSession; user: UserAccount; refreshTokenExpiresAt: Date }
  | { kind: "reused"; session: AuthSession }
  | { kind: "invalid" };

export type CodeCheck<T> = { kind: "matched"; value: T } | { kind: "wrong" } | { kind: "absent" };

export interface StoredCode {
  purpose: string;
  userId: string;
  codeHash: Uint8Array;
}

/** An outbox event a worker has claimed for delivery. */
export interface ClaimedOutboxEvent {
  id: bigint;
  payload: Uint8Array;
  /** Delivery attempts including this one. */
  attempts: number;
}

export interface ContactVerifiedOutbox {
  topic: string;
  payload: (eventId: string, verifiedAt: Date) => Uint8Array;
}

export interface AuthStore {
  // Signing keys.
  /** Keys still published: the signing one and retired ones not yet past their tokens' lifetime. */
  publishedSigningKeys(retiredAfter: Date): Promise<StoredSigningKey[]>;
  /**
   * Returns the active key of this version, creating it (and retiring any
   * active key of another version) unless another replica already did;
   * serialised by an advisory lock so replicas starting together agree.
   */
  ensureActiveSigningKey(version: string, create: () => Promise<StoredSigningKey>): Promise<StoredSigningKey>;

  // Accounts.
  /** Creates the account; null when one of its contacts already belongs to an account. */
  createUser(input: {
    email: string | null;
    phoneNumber: string | null;
    displayName: string;
    passwordHash: string;
    audit: AuditRecord;
  }): Promise<UserAccount | null>;
  findUserByContact(field: ContactField, contact: string): Promise<UserAccount | null>;
  findUserById(id: string): Promise<UserAccount | null>;
  /** Stores a new password hash; `changed` also moves password_changed_at (a re-hash does not). */
  setPasswordHash(userId: string, passwordHash: string, changed: boolean): Promise<void>;
  /** Marks the pending contact of a change request, or clears it. */
  setPendingContact(userId: string, field: ContactField, contact: string | null): Promise<void>;

  // Sessions and refresh tokens.
  createSession(session: NewSession): Promise<AuthSession>;
  findSession(id: string): Promise<AuthSession | null>;
  /** Active sessions, most recently seen first, after the cursor (lastSeenAt, id). */
  listActiveSessions(userId: string, limit: number, after?: { lastSeenAt: Date; id: string }): Promise<AuthSession[]>;
  /**
   * Rotates a refresh token in one transaction holding its row lock, so two
   * racing refreshes of one token cannot both succeed: the second sees the
   * token rotated, which is reuse, and the session is revoked.
   */
  rotateRefreshToken(input: {
    tokenHash: Buffer;
    nextTokenHash: Buffer;
    idleMs: number;
    ipAddress: string;
    userAgent: string;
  }): Promise<RotationResult>;
  /** Revokes sessions of a user (one, all, or all but one); returns the ids revoked by this call. */
  revokeSessions(input: {
    userId: string;
    only?: string;
    except?: string;
    reason: string;
    audit: Omit<AuditRecord, "kind">;
  }): Promise<string[]>;

  // Codes.
  saveCode(input: { flow: string; contact: string; purpose: string; userId: string; codeHash: Buffer; expiresAt: Date }): Promise<void>;
  /**
   * Checks a code in one transaction with the row locked: a wrong code counts
   * an attempt (and voids the code at the limit); a right one is deleted and
   * `onMatch` runs in the same transaction, so its changes commit with it.
   */
  useCode<T>(input: {
    flow: string;
    contact: string;
    attemptsMax: number;
    matches: (stored: StoredCode) => boolean;
    onMatch: (stored: StoredCode, transaction: Prisma.TransactionClient) => Promise<T>;
  }): Promise<CodeCheck<T>>;
  /** Marks a contact verified (or moves a pending one into place) and records the ContactVerified event. */
  verifyContact(
    transaction: Prisma.TransactionClient,
    input: { userId: string; field: ContactField; contact: string; change: boolean; outbox: ContactVerifiedOutbox; audit: AuditRecord },
  ): Promise<Date | null>;
  /** Sets a new password inside a code transaction, marks the contact verified, ends every session. */
  resetPassword(
    transaction: Prisma.TransactionClient,
    input: { userId: string; field: ContactField; passwordHash: string; audit: AuditRecord },
  ): Promise<string[]>;

  // Outbox delivery.
  /**
   * Claims up to `limit` due, undelivered events of a topic, oldest first, in
   * one statement: the rows are selected FOR UPDATE SKIP LOCKED, so parallel
   * workers (replicas) never claim the same event, and each claimed event's
   * attempts go up by one and its available_at moves `leaseMs` ahead. No lock
   * is held while the event is delivered; if the worker dies, the event is
   * due again when the lease ends.
   */
  claimOutboxEvents(topic: string, limit: number, leaseMs: number): Promise<ClaimedOutboxEvent[]>;
  /** Marks an event delivered; it is never claimed again. */
  markOutboxDelivered(id: bigint): Promise<void>;
  /** Records a failed attempt and makes the event due again after `delayMs`. */
  releaseOutboxEvent(id: bigint, delayMs: number, error: string): Promise<void>;

  // Audit, idempotency, housekeeping.
  audit(record: AuditRecord): Promise<void>;
  findIdempotent(scope: string, key: string): Promise<{ method: string; requestHash: Uint8Array; response: Uint8Array } | null>;
  saveIdempotent(input: {
    scope: string;
    key: string;
    method: string;
    requestHash: Buffer;
    response: Buffer;
    expiresAt: Date;
  }): Promise<void>;
  /** Deletes expired codes and idempotency records, and outbox events delivered over a week ago; returns how many rows went. */
  deleteExpired(now: Date): Promise<number>;
  close(): Promise<void>;
}

/** Delivered outbox events are kept this long, for looking into what was sent, then swept. */
const deliveredOutboxKeepMs = 7 * 24 * 3600_000;

/** Advisory lock id for signing-key creation (any constant unique within auth's database). */
const signingKeyLockId = 0x5349_474e;

function toStored(row: {
  kid: string;
  publicJwk: unknown;
  privateKeySealed: Uint8Array;
  createdAt: Date;
  retiredAt: Date | null;
  version: string;
}): StoredSigningKey {
  return { ...row, publicJwk: row.publicJwk as Record<string, string> };
}

function auditData(record: AuditRecord): Prisma.AuditEventCreateManyInput {
  return {
    kind: record.kind,
    userId: record.userId ?? null,
    sessionId: record.sessionId ?? null,
    ipAddress: (record.ipAddress ?? "").slice(0, 64),
    userAgent: (record.userAgent ?? "").slice(0, 512),
    detail: record.detail ?? {},
  };
}

/** Prisma's Bytes fields take a Uint8Array over a plain ArrayBuffer; a Buffer may sit in a shared pool. */
function bytes(value: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value);
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

const verifiedAtColumn = { email: "emailVerifiedAt", phoneNumber: "phoneVerifiedAt" } as const;
const pendingColumn = { email: "pendingEmail", phoneNumber: "pendingPhoneNumber" } as const;

/** The store on auth's Prisma client (createPrismaClient over the service's pool). */
export function createAuthStore(prisma: PrismaClient): AuthStore {
  async function revokeWithin(
    transaction: Prisma.TransactionClient,
    input: { userId: string; only?: string; except?: string; reason: string; audit: Omit<AuditRecord, "kind"> },
  ): Promise<string[]> {
    const now = new Date();
    const where: Prisma.AuthSessionWhereInput = { userId: input.userId, revokedAt: null, expiresAt: { gt: now } };
    if (input.only) where.id = input.only;
    else if (input.except) where.id = { not: input.except };
    const sessions = await transaction.authSession.findMany({ where, select: { id: true } });
    if (sessions.length === 0) return [];
    const ids = sessions.map((session) => session.id);
    await transaction.authSession.updateMany({
      where: { id: { in: ids }, revokedAt: null },
      data: { revokedAt: now, revokedReason: input.reason },
    });
    await transaction.auditEvent.createMany({
      data: ids.map((id) =>
        auditData({ ...input.audit, kind: "session_revoked", userId: input.userId, sessionId: id, detail: { reason: input.reason } }),
      ),
    });
    return ids;
  }

  return {
    async publishedSigningKeys(retiredAfter) {
      const rows = await prisma.signingKey.findMany({
        where: { OR: [{ retiredAt: null }, { retiredAt: { gt: retiredAfter } }] },
        orderBy: { createdAt: "desc" },
      });
      return rows.map(toStored);
    },
    ensureActiveSigningKey(version, create) {
      return prisma.$transaction(async (transaction) => {
        await transaction.$executeRaw`SELECT pg_advisory_xact_lock(${signingKeyLockId})`;
        const active = await transaction.signingKey.findFirst({ where: { retiredAt: null }, orderBy: { createdAt: "desc" } });
        if (active && active.version === version) return toStored(active);
        // A new version retires every active key; they stay published for the tokens they signed.
        await transaction.signingKey.updateMany({ where: { retiredAt: null }, data: { retiredAt: new Date() } });
        const fresh = await create();
        await transaction.signingKey.create({
          data: {
            kid: fresh.kid,
            publicJwk: fresh.publicJwk,
            privateKeySealed: bytes(fresh.privateKeySealed),
            createdAt: fresh.createdAt,
            version,
          },
        });
        return { ...fresh, version };
      });
    },

    async createUser(input) {
      try {
        return await prisma.$transaction(async (transaction) => {
          const user = await transaction.userAccount.create({
            data: { email: input.email, phoneNumber: input.phoneNumber, displayName: input.displayName, passwordHash: input.passwordHash },
          });
          await transaction.auditEvent.create({ data: auditData({ ...input.audit, userId: user.id }) });
          return user;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },
    findUserByContact: (field, contact) =>
      field === "email"
        ? prisma.userAccount.findUnique({ where: { email: contact } })
        : prisma.userAccount.findUnique({ where: { phoneNumber: contact } }),
    findUserById: (id) => prisma.userAccount.findUnique({ where: { id } }),
    async setPasswordHash(userId, passwordHash, changed) {
      await prisma.userAccount.update({
        where: { id: userId },
        data: changed ? { passwordHash, passwordChangedAt: new Date() } : { passwordHash },
      });
    },
    async setPendingContact(userId, field, contact) {
      await prisma.userAccount.update({ where: { id: userId }, data: { [pendingColumn[field]]: contact } });
    },

    createSession(session) {
      return prisma.$transaction(async (transaction) => {
        const created = await transaction.authSession.create({
          data: {
            id: session.id,
            userId: session.userId,
            deviceName: session.deviceName,
            userAgent: session.userAgent,
            ipAddress: session.ipAddress,
            lastIpAddress: session.ipAddress,
            authenticationMethods: session.authenticationMethods,
            expiresAt: session.expiresAt,
          },
        });
        await transaction.refreshToken.create({
          data: { tokenHash: bytes(session.refreshTokenHash), sessionId: session.id, expiresAt: session.refreshTokenExpiresAt },
        });
        return created;
      });
    },
    findSession: (id) => prisma.authSession.findUnique({ where: { id } }),
    listActiveSessions(userId, limit, after) {
      const now = new Date();
      const where: Prisma.AuthSessionWhereInput = { userId, revokedAt: null, expiresAt: { gt: now } };
      if (after) where.OR = [{ lastSeenAt: { lt: after.lastSeenAt } }, { lastSeenAt: after.lastSeenAt, id: { lt: after.id } }];
      return prisma.authSession.findMany({ where, orderBy: [{ lastSeenAt: "desc" }, { id: "desc" }], take: limit });
    },
    rotateRefreshToken(input) {
      return prisma.$transaction(async (transaction): Promise<RotationResult> => {
        const rows = await transaction.$queryRaw<{ session_id: string; expires_at: Date; rotated_at: Date | null }[]>`
          SELECT session_id, expires_at, rotated_at FROM refresh_token WHERE token_hash = ${input.tokenHash} FOR UPDATE`;
        const token = rows[0];
        if (!token) return { kind: "invalid" };
        const session = await transaction.authSession.findUnique({ where: { id: token.session_id }, include: { user: true } });
        if (!session) return { kind: "invalid" };
        const now = new Date();
        if (token.rotated_at !== null) {
          // Reuse: whoever holds this token is not the only holder. End the family.
          if (session.revokedAt === null) {
            await transaction.authSession.update({
              where: { id: session.id },
              data: { revokedAt: now, revokedReason: "refresh_token_reuse" },
            });
          }
          await transaction.auditEvent.create({
            data: auditData({
              kind: "refresh_token_reuse",
              userId: session.userId,
              sessionId: session.id,
              ipAddress: input.ipAddress,
              userAgent: input.userAgent,
            }),
          });
          return { kind: "reused", session };
        }
        if (session.revokedAt !== null || session.expiresAt <= now || token.expires_at <= now) return { kind: "invalid" };
        const refreshTokenExpiresAt = new Date(Math.min(now.getTime() + input.idleMs, session.expiresAt.getTime()));
        await transaction.refreshToken.update({ where: { tokenHash: bytes(input.tokenHash) }, data: { rotatedAt: now } });
        await transaction.refreshToken.create({
          data: { tokenHash: bytes(input.nextTokenHash), sessionId: session.id, expiresAt: refreshTokenExpiresAt },
        });
        const updated = await transaction.authSession.update({
          where: { id: session.id },
          data: { lastSeenAt: now, lastIpAddress: input.ipAddress.slice(0, 64) },
        });
        return { kind: "rotated", session: updated, user: session.user, refreshTokenExpiresAt };
      });
    },
    revokeSessions(input) {
      return prisma.$transaction((transaction) => revokeWithin(transaction, input));
    },

    async saveCode(input) {
      const data = {
        purpose: input.purpose,
        userId: input.userId,
        codeHash: bytes(input.codeHash),
        attempts: 0,
        createdAt: new Date(),
        expiresAt: input.expiresAt,
      };
      await prisma.verificationCode.upsert({
        where: { flow_contact: { flow: input.flow, contact: input.contact } },
        create: { flow: input.flow, contact: input.contact, ...data },
        update: data,
      });
    },
    useCode(input) {
      return prisma.$transaction(async (transaction) => {
        const rows = await transaction.$queryRaw<
          { purpose: string; user_id: string; code_hash: Uint8Array; attempts: number; expires_at: Date }[]
        >`
          SELECT purpose, user_id, code_hash, attempts, expires_at FROM verification_code
           WHERE flow = ${input.flow} AND contact = ${input.contact} FOR UPDATE`;
        const row = rows[0];
        const key = { flow_contact: { flow: input.flow, contact: input.contact } };
        if (!row || row.expires_at <= new Date() || row.attempts >= input.attemptsMax) return { kind: "absent" } as const;
        const stored: StoredCode = { purpose: row.purpose, userId: row.user_id, codeHash: row.code_hash };
        if (!input.matches(stored)) {
          // Counted even though the call fails: the transaction commits the attempt.
          await transaction.verificationCode.update({ where: key, data: { attempts: { increment: 1 } } });
          return { kind: "wrong" } as const;
        }
        await transaction.verificationCode.delete({ where: key });
        return { kind: "matched", value: await input.onMatch(stored, transaction) } as const;
      });
    },
    async verifyContact(transaction, input) {
      const user = await transaction.userAccount.findUnique({ where: { id: input.userId } });
      if (!user) return null;
      const now = new Date();
      if (input.change) {
        if (user[pendingColumn[input.field]] !== input.contact) return null;
        // Checked first: a unique violation would abort the whole transaction, the used code with it.
        const holder = await transaction.userAccount.findFirst({ where: { [input.field]: input.contact }, select: { id: true } });
        if (holder) return null;
        await transaction.userAccount.update({
          where: { id: user.id },
          data: { [input.field]: input.contact, [verifiedAtColumn[input.field]]: now, [pendingColumn[input.field]]: null },
        });
      } else {
        if (user[input.field] !== input.contact) return null;
        const already = user[verifiedAtColumn[input.field]];
        if (already) return already;
        await transaction.userAccount.update({ where: { id: user.id }, data: { [verifiedAtColumn[input.field]]: now } });
      }
      const eventId = randomUUID();
      await transaction.outboxEvent.create({
        data: { topic: input.outbox.topic, payload: Buffer.from(input.outbox.payload(eventId, now)) },
      });
      await transaction.auditEvent.create({ data: auditData({ ...input.audit, detail: { ...input.audit.detail, event_id: eventId } }) });
      return now;
    },
    async resetPassword(transaction, input) {
      const user = await transaction.userAccount.findUnique({ where: { id: input.userId } });
      if (!user) return [];
      // The code proved control of the contact, so it counts as verified too.
      const verified = user[verifiedAtColumn[input.field]] ? {} : { [verifiedAtColumn[input.field]]: new Date() };
      await transaction.userAccount.update({
        where: { id: user.id },
        data: { passwordHash: input.passwordHash, passwordChangedAt: new Date(), ...verified },
      });
      await transaction.auditEvent.create({ data: auditData(input.audit) });
      return revokeWithin(transaction, { userId: user.id, reason: "password_reset", audit: input.audit });
    },

    claimOutboxEvents(topic, limit, leaseMs) {
      return prisma.$queryRaw<ClaimedOutboxEvent[]>`
        UPDATE outbox_event
           SET attempts = attempts + 1,
               available_at = now() + make_interval(secs => ${leaseMs / 1000}::double precision)
         WHERE id IN (SELECT id FROM outbox_event
                       WHERE topic = ${topic} AND processed_at IS NULL AND available_at <= now()
                       ORDER BY available_at, id
                       LIMIT ${limit}
                       FOR UPDATE SKIP LOCKED)
        RETURNING id, payload, attempts`;
    },
    async markOutboxDelivered(id) {
      await prisma.outboxEvent.updateMany({ where: { id }, data: { processedAt: new Date(), lastError: null } });
    },
    async releaseOutboxEvent(id, delayMs, error) {
      await prisma.$executeRaw`
        UPDATE outbox_event
           SET available_at = now() + make_interval(secs => ${delayMs / 1000}::double precision),
               last_error = ${error.slice(0, 1000)}
         WHERE id = ${id} AND processed_at IS NULL`;
    },

    async audit(record) {
      await prisma.auditEvent.create({ data: auditData(record) });
    },
    async findIdempotent(scope, key) {
      const row = await prisma.idempotencyRecord.findUnique({ where: { scope_key: { scope, key } } });
      return row && row.expiresAt > new Date() ? row : null;
    },
    async saveIdempotent(input) {
      await prisma.idempotencyRecord.createMany({
        data: [{ ...input, requestHash: bytes(input.requestHash), response: bytes(input.response) }],
        skipDuplicates: true,
      });
    },
    async deleteExpired(now) {
      const codes = await prisma.verificationCode.deleteMany({ where: { expiresAt: { lt: now } } });
      const records = await prisma.idempotencyRecord.deleteMany({ where: { expiresAt: { lt: now } } });
      const delivered = await prisma.outboxEvent.deleteMany({
        where: { processedAt: { lt: new Date(now.getTime() - deliveredOutboxKeepMs) } },
      });
      return codes.count + records.count + delivered.count;
    },
    close: () => prisma.$disconnect(),
  };
}
