// A stand-in for the ledger (#4) in this workspace's own tests, so they run
// without a ledger process (test/e2e/payments.test.ts runs the same flows
// through the real ledger): an in-memory LedgerService implementing the part
// of the contract payments calls — CreateAccount, GetAccount, PostTransaction
// (posted or pending), PostPending, VoidPending, GetBalance — with the ledger's
// rules that payments relies on:
// idempotency keys (same body replays, another body is ALREADY_EXISTS with
// reason IDEMPOTENCY_CONFLICT), wallets that never go below zero counting
// reserved debits, and a pending transaction resolved at most once. It can be
// told to fail calls, to prove payments retries. Served through
// createRouterTransport for handler tests and over real HTTP/2 gRPC for
// process tests.
import { createHash, randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { LedgerService } from "@trustmesh/api";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import {
  type Account,
  AccountKind,
  AccountSchema,
  type Posting,
  type Transaction,
  TransactionKind,
  TransactionSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";

interface AccountState {
  account: Account;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

interface PendingState {
  transaction: Transaction;
  resolution?: "POSTED" | "VOIDED";
}

export interface LedgerDouble {
  readonly impl: Partial<ServiceImpl<typeof LedgerService>>;
  /** Posted balance (credits minus debits) of an account. */
  posted(accountId: string): bigint;
  available(accountId: string): bigint;
  /** The wallet of a user in a currency, if created. */
  walletOf(userId: string, currency: string): string | undefined;
  systemAccount(address: string): string | undefined;
  /** Credits the wallet with posted money from the outside world (a test's starting balance). */
  fund(userId: string, currency: string, amountMinor: bigint): void;
  /** Sum of posted balances per currency, which double entry keeps at zero. */
  currencyTotals(): Map<string, bigint>;
  /** Open pending transactions. */
  openPending(): number;
  /** Every committed transaction by idempotency key. */
  readonly keys: ReadonlyMap<string, Transaction>;
  /** The next `count` calls fail with UNAVAILABLE (before doing anything). */
  failNext(count: number): void;
  /** Calls answered, by method. */
  readonly calls: Map<string, number>;
}

function rejection(code: Code, reason: string, message: string): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: { reason, domain: "ledger.trustmesh.dev" } }]);
}

export function createLedgerDouble(): LedgerDouble {
  const accounts = new Map<string, AccountState>();
  const byAddress = new Map<string, string>();
  const accountKeys = new Map<string, { hash: string; id: string }>();
  const keys = new Map<string, Transaction>();
  const keyHashes = new Map<string, string>();
  const pending = new Map<string, PendingState>();
  const calls = new Map<string, number>();
  let failures = 0;

  const enter = (method: string) => {
    calls.set(method, (calls.get(method) ?? 0) + 1);
    if (failures > 0) {
      failures--;
      throw new ConnectError("the ledger double is down (injected)", Code.Unavailable);
    }
  };
  const hashOf = (value: unknown) =>
    createHash("sha256")
      .update(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)))
      .digest("hex");
  const stateOf = (id: string) => {
    const state = accounts.get(id);
    if (!state) throw rejection(Code.NotFound, "ACCOUNT_NOT_FOUND", `account ${id} not found`);
    return state;
  };
  const replayOrConflict = (key: string, hash: string): Transaction | undefined => {
    const known = keyHashes.get(key);
    if (known === undefined) return undefined;
    if (known !== hash) throw rejection(Code.AlreadyExists, "IDEMPOTENCY_CONFLICT", `idempotency key ${key} was used with another body`);
    return keys.get(key);
  };
  const commit = (key: string, hash: string, transaction: Transaction) => {
    keys.set(key, transaction);
    keyHashes.set(key, hash);
    return transaction;
  };
  const createAccount = (input: { ownerId: string; currency: string; kind: AccountKind; address: string; walletFlag: boolean }) => {
    const id = randomUUID();
    const account = create(AccountSchema, {
      id,
      ownerId: input.ownerId,
      currency: input.currency,
      kind: input.kind,
      address: input.address,
      flags: { debitsMustNotExceedCredits: input.walletFlag },
      createdAt: timestampNow(),
    });
    accounts.set(id, { account, debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n });
    if (input.address) byAddress.set(input.address, id);
    return account;
  };
  const available = (state: AccountState) => state.creditsPosted - state.debitsPosted - state.debitsPending;
  /** Applies postings to posted or pending totals after checking every flag; all or nothing. */
  const apply = (postings: readonly Posting[], mode: "posted" | "pending" | "post_pending" | "void_pending") => {
    const effects = new Map<string, { debit: bigint; credit: bigint }>();
    for (const posting of postings) {
      const amount = BigInt(posting.amount?.amountMinor ?? "0");
      const currency = posting.amount?.currency ?? "";
      for (const [id, side] of [
        [posting.debitAccountId, "debit"],
        [posting.creditAccountId, "credit"],
      ] as const) {
        const state = stateOf(id);
        if (state.account.currency !== currency)
          throw rejection(Code.InvalidArgument, "CURRENCY_MISMATCH", `account ${id} holds ${state.account.currency}`);
        const effect = effects.get(id) ?? { debit: 0n, credit: 0n };
        effect[side] += amount;
        effects.set(id, effect);
      }
    }
    if (mode === "posted" || mode === "pending") {
      for (const [id, effect] of effects) {
        const state = stateOf(id);
        const after = mode === "posted" ? available(state) + effect.credit - effect.debit : available(state) - effect.debit;
        if (state.account.flags?.debitsMustNotExceedCredits && after < 0n) {
          throw rejection(Code.FailedPrecondition, "INSUFFICIENT_FUNDS", `account ${id} lacks available funds`);
        }
      }
    }
    for (const [id, effect] of effects) {
      const state = stateOf(id);
      if (mode === "posted") {
        state.debitsPosted += effect.debit;
        state.creditsPosted += effect.credit;
      } else if (mode === "pending") {
        state.debitsPending += effect.debit;
        state.creditsPending += effect.credit;
      } else {
        state.debitsPending -= effect.debit;
        state.creditsPending -= effect.credit;
        if (mode === "post_pending") {
          state.debitsPosted += effect.debit;
          state.creditsPosted += effect.credit;
        }
      }
    }
  };
  const newTransaction = (fields: MessageInitShape<typeof TransactionSchema>) =>
    create(TransactionSchema, { id: randomUUID(), createdAt: timestampNow(), createdBy: "payments", ...fields });

  /** PostPending and VoidPending: the same checks, then the pending transaction resolved once, one way or the other. */
  const resolvePending = (
    request: { pendingTransactionId: string; idempotencyKey: string },
    hash: string,
    resolution: "POSTED" | "VOIDED",
    fields: MessageInitShape<typeof TransactionSchema>,
  ) => {
    const replay = replayOrConflict(request.idempotencyKey, hash);
    const state = pending.get(request.pendingTransactionId);
    if (!state) throw rejection(Code.NotFound, "PENDING_NOT_FOUND", "no such pending transaction");
    if (replay) return { transaction: replay, pendingTransaction: state.transaction, replayed: true };
    if (state.resolution === "POSTED") throw rejection(Code.FailedPrecondition, "PENDING_ALREADY_POSTED", "already posted");
    if (state.resolution === "VOIDED") throw rejection(Code.FailedPrecondition, "PENDING_ALREADY_VOIDED", "already voided");
    apply(state.transaction.postings, resolution === "POSTED" ? "post_pending" : "void_pending");
    state.resolution = resolution;
    const committed = newTransaction({
      kind: resolution === "POSTED" ? TransactionKind.POST_PENDING : TransactionKind.VOID_PENDING,
      postings: state.transaction.postings,
      idempotencyKey: request.idempotencyKey,
      pendingTransactionId: state.transaction.id,
      reference: state.transaction.reference,
      ...fields,
    });
    return { transaction: commit(request.idempotencyKey, hash, committed), pendingTransaction: state.transaction, replayed: false };
  };

  const impl: Partial<ServiceImpl<typeof LedgerService>> = {
    async createAccount(request) {
      enter("CreateAccount");
      const hash = hashOf([
        request.ownerId,
        request.currency,
        request.kind,
        request.address,
        request.flags?.debitsMustNotExceedCredits ?? false,
      ]);
      const known = accountKeys.get(request.idempotencyKey);
      if (known) {
        if (known.hash !== hash) throw rejection(Code.AlreadyExists, "IDEMPOTENCY_CONFLICT", "key reused");
        return { account: stateOf(known.id).account, replayed: true };
      }
      if (request.address && byAddress.has(request.address)) throw rejection(Code.AlreadyExists, "ADDRESS_TAKEN", "address taken");
      const account = createAccount({
        ownerId: request.ownerId,
        currency: request.currency,
        kind: request.kind,
        address: request.address,
        walletFlag: request.flags?.debitsMustNotExceedCredits ?? false,
      });
      accountKeys.set(request.idempotencyKey, { hash, id: account.id });
      return { account, replayed: false };
    },
    async getAccount(request) {
      enter("GetAccount");
      const id = request.selector.case === "address" ? byAddress.get(request.selector.value) : request.selector.value;
      if (!id || !accounts.has(id)) throw rejection(Code.NotFound, "NOT_FOUND", "no such account");
      return { account: stateOf(id).account };
    },
    async postTransaction(request) {
      enter("PostTransaction");
      const transaction = request.transaction;
      if (!transaction) throw new ConnectError("transaction is required", Code.InvalidArgument);
      const hash = hashOf([
        "post",
        transaction.postings.map((p) => [p.debitAccountId, p.creditAccountId, p.amount?.currency, p.amount?.amountMinor]),
        transaction.pending,
        transaction.reference,
      ]);
      const replay = replayOrConflict(transaction.idempotencyKey, hash);
      if (replay) return { transaction: replay, replayed: true };
      apply(transaction.postings, transaction.pending ? "pending" : "posted");
      const committed = newTransaction({
        kind: transaction.pending ? TransactionKind.PENDING : TransactionKind.POSTED,
        postings: transaction.postings,
        idempotencyKey: transaction.idempotencyKey,
        reference: transaction.reference,
      });
      if (transaction.pending) pending.set(committed.id, { transaction: committed });
      return { transaction: commit(transaction.idempotencyKey, hash, committed), replayed: false };
    },
    async postPending(request) {
      enter("PostPending");
      return resolvePending(request, hashOf(["post_pending", request.pendingTransactionId]), "POSTED", {});
    },
    async voidPending(request) {
      enter("VoidPending");
      const hash = hashOf(["void_pending", request.pendingTransactionId, request.reason]);
      return resolvePending(request, hash, "VOIDED", { voidReason: request.reason });
    },
    async getBalance(request) {
      enter("GetBalance");
      const state = stateOf(request.accountId);
      return {
        balance: {
          accountId: request.accountId,
          currency: state.account.currency,
          availableMinor: available(state).toString(),
          postedMinor: (state.creditsPosted - state.debitsPosted).toString(),
        },
      };
    },
  };

  const ensureSystem = (address: string, currency: string) =>
    byAddress.get(address) ?? createAccount({ ownerId: "", currency, kind: AccountKind.EXTERNAL_RAIL, address, walletFlag: false }).id;

  return {
    impl,
    keys,
    calls,
    posted: (id) => {
      const state = stateOf(id);
      return state.creditsPosted - state.debitsPosted;
    },
    available: (id) => available(stateOf(id)),
    walletOf: (userId, currency) => accountKeys.get(`wallet:${userId}:${currency}`)?.id,
    systemAccount: (address) => byAddress.get(address),
    fund(userId, currency, amountMinor) {
      const key = `wallet:${userId}:${currency}`;
      let wallet = accountKeys.get(key)?.id;
      if (!wallet) {
        wallet = createAccount({ ownerId: userId, currency, kind: AccountKind.USER_WALLET, address: "", walletFlag: true }).id;
        accountKeys.set(key, { hash: hashOf([userId, currency, AccountKind.USER_WALLET, "", true]), id: wallet });
      }
      const world = ensureSystem(`test:world:${currency}`, currency);
      stateOf(world).debitsPosted += amountMinor;
      stateOf(wallet).creditsPosted += amountMinor;
    },
    currencyTotals() {
      const totals = new Map<string, bigint>();
      for (const state of accounts.values()) {
        const currency = state.account.currency;
        totals.set(currency, (totals.get(currency) ?? 0n) + state.creditsPosted - state.debitsPosted);
      }
      return totals;
    },
    openPending: () => [...pending.values()].filter((state) => !state.resolution).length,
    failNext(count) {
      failures = count;
    },
  };
}
