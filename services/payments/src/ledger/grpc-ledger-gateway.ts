// The LedgerGateway over the ledger's gRPC contract. Account ids are immutable,
// so wallets and system accounts are looked up once and kept in a bounded map.
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { LedgerService } from "@trustmesh/api";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import { AccountKind, type NewTransaction, NewTransactionSchema } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { money } from "../domain/money.ts";
import {
  type LedgerGateway,
  LedgerRejection,
  type LedgerRejectionReason,
  type NewLedgerTransaction,
  type SystemAccountKind,
} from "./ledger-gateway.ts";

const knownReasons = new Set<string>([
  "ACCOUNT_NOT_FOUND",
  "CURRENCY_MISMATCH",
  "INSUFFICIENT_FUNDS",
  "CREDITS_EXCEED_DEBITS",
  "IDEMPOTENCY_CONFLICT",
  "AMOUNT_OVERFLOW",
  "PENDING_NOT_FOUND",
  "PENDING_ALREADY_POSTED",
  "PENDING_ALREADY_VOIDED",
  "PENDING_EXPIRED",
  "AMOUNT_EXCEEDS_PENDING",
]);

/** Codes by which the ledger says "no" for good; every other code is worth a retry. */
const finalCodes = new Set([Code.InvalidArgument, Code.NotFound, Code.AlreadyExists, Code.FailedPrecondition, Code.OutOfRange]);

function rejectionOf(error: unknown): LedgerRejection | undefined {
  if (!(error instanceof ConnectError) || !finalCodes.has(error.code)) return undefined;
  const reason = error.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
  const known = (knownReasons.has(reason) ? reason : "OTHER") as LedgerRejectionReason;
  return new LedgerRejection(known, error.rawMessage);
}

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw rejectionOf(error) ?? error;
  }
}

const systemAccountKinds: Record<SystemAccountKind, AccountKind> = {
  fee_revenue: AccountKind.FEE_REVENUE,
  settlement: AccountKind.SETTLEMENT,
  clearing: AccountKind.CLEARING,
  "external:sandbox": AccountKind.EXTERNAL_RAIL,
};

/** Cached account ids at most; an entry is a few dozen bytes. */
const accountCacheMax = 100_000;

export function createGrpcLedgerGateway(client: Client<typeof LedgerService>): LedgerGateway {
  const accounts = new Map<string, string>();
  const remember = (key: string, id: string) => {
    if (accounts.size >= accountCacheMax) accounts.delete(accounts.keys().next().value as string);
    accounts.set(key, id);
    return id;
  };
  const toNew = (transaction: NewLedgerTransaction, pendingTimeoutMs?: number): NewTransaction =>
    create(NewTransactionSchema, {
      idempotencyKey: transaction.idempotencyKey,
      reference: transaction.reference,
      metadata: transaction.metadata ?? {},
      postings: transaction.postings.map((posting) => ({
        debitAccountId: posting.debitAccountId,
        creditAccountId: posting.creditAccountId,
        amount: money(posting.currency, posting.amountMinor),
      })),
      pending: pendingTimeoutMs !== undefined,
      ...(pendingTimeoutMs === undefined ? {} : { pendingTimeout: durationFromMs(pendingTimeoutMs) }),
    });

  return {
    async walletAccountId(userId, currency) {
      const key = `wallet:${userId}:${currency}`;
      const cached = accounts.get(key);
      if (cached) return cached;
      const response = await call(() =>
        client.createAccount({
          idempotencyKey: key,
          ownerId: userId,
          currency,
          kind: AccountKind.USER_WALLET,
          flags: { debitsMustNotExceedCredits: true },
        }),
      );
      return remember(key, response.account?.id ?? "");
    },
    async systemAccountId(kind, currency) {
      const address = `system:${kind}:${currency}`;
      const cached = accounts.get(address);
      if (cached) return cached;
      // The ledger creates its system accounts at start; creating one here is the
      // fallback for a ledger that has not, and an ADDRESS_TAKEN race ends in a read.
      try {
        const found = await client.getAccount({ selector: { case: "address", value: address } });
        return remember(address, found.account?.id ?? "");
      } catch (error) {
        if (!(error instanceof ConnectError) || error.code !== Code.NotFound) throw rejectionOf(error) ?? error;
      }
      try {
        const created = await client.createAccount({
          idempotencyKey: address,
          currency,
          kind: systemAccountKinds[kind],
          address,
          flags: { debitsMustNotExceedCredits: kind === "fee_revenue" || kind === "clearing" },
        });
        return remember(address, created.account?.id ?? "");
      } catch (error) {
        if (!(error instanceof ConnectError) || error.code !== Code.AlreadyExists) throw rejectionOf(error) ?? error;
        const found = await call(() => client.getAccount({ selector: { case: "address", value: address } }));
        return remember(address, found.account?.id ?? "");
      }
    },
    async reserve(transaction, timeoutMs) {
      const response = await call(() => client.postTransaction({ transaction: toNew(transaction, timeoutMs) }));
      return { transactionId: response.transaction?.id ?? "" };
    },
    async postPending(pendingTransactionId, idempotencyKey) {
      const response = await call(() => client.postPending({ pendingTransactionId, idempotencyKey }));
      return { transactionId: response.transaction?.id ?? "" };
    },
    async voidPending(pendingTransactionId, idempotencyKey, reason) {
      const response = await call(() => client.voidPending({ pendingTransactionId, idempotencyKey, reason }));
      return { transactionId: response.transaction?.id ?? "" };
    },
    async transfer(transaction) {
      const response = await call(() => client.postTransaction({ transaction: toNew(transaction) }));
      return { transactionId: response.transaction?.id ?? "" };
    },
    async availableBalance(accountId) {
      const response = await call(() => client.getBalance({ accountId }));
      return BigInt(response.balance?.availableMinor ?? "0");
    },
  };
}
