// The ledger engine: given the locked balances, the chain head and a batch of
// operations, decides which operations commit, computes their entries, running
// balances, sequences and hashes — all in memory, before anything is written
// (TigerBeetle's approach: validate every transfer against the balances it
// will change, then write the batch in one go). Pure: the store reads the
// inputs and writes the plan inside one database transaction.
import { genesisHash, transactionHash } from "./chain.ts";
import { amountMinorMax, type Currency } from "./money.ts";
import {
  type AccountRecord,
  availableBalance,
  type BalanceRecord,
  type BalanceTotals,
  type EntryRecord,
  isPairedInOrder,
  type PostingInput,
  postedBalance,
  postingsOf,
  type TransactionKindName,
  type TransactionRecord,
} from "./records.ts";

interface OperationBase {
  /** Whose idempotency key space (the calling principal). */
  scope: string;
  /** The principal recorded as created_by. */
  createdBy: string;
  idempotencyKey: string;
  /** SHA-256 of the canonical request: equal hashes under one key are replays. */
  requestHash: Buffer;
  metadata: Record<string, string>;
}

/** A new transaction: posted at once, or pending (two-phase). */
export interface TransferOperation extends OperationBase {
  type: "transfer";
  postings: PostingInput[];
  pending: boolean;
  /** For pending transfers: how long until the ledger voids it itself. */
  pendingTimeoutMs: number | undefined;
  reference: string;
}

/** Post, void or expire a pending transaction. */
export interface ResolveOperation extends OperationBase {
  type: "resolve";
  action: "post" | "void" | "expire";
  pendingTransactionId: string;
  /** For post: one amount per pending posting; undefined posts everything. */
  amounts: bigint[] | undefined;
  /** The currency each of `amounts` was given in; each must be its posting's. */
  amountCurrencies: Currency[] | undefined;
  voidReason: string;
}

export type Operation = TransferOperation | ResolveOperation;

/** Operations submitted together; atomic ones commit all or nothing. */
export interface Job {
  operations: Operation[];
  atomic: boolean;
}

export type RejectionReasonName =
  | "ACCOUNT_NOT_FOUND"
  | "CURRENCY_MISMATCH"
  | "INSUFFICIENT_FUNDS"
  | "CREDITS_EXCEED_DEBITS"
  | "IDEMPOTENCY_CONFLICT"
  | "BATCH_ABORTED"
  | "AMOUNT_OVERFLOW"
  | "PENDING_NOT_FOUND"
  | "PENDING_ALREADY_POSTED"
  | "PENDING_ALREADY_VOIDED"
  | "PENDING_EXPIRED"
  | "AMOUNT_EXCEEDS_PENDING";

export interface RejectionRecord {
  reason: RejectionReasonName;
  detail: string;
  postingIndex?: number;
  accountId?: string;
}

export type Outcome =
  /** Committed by this batch. */
  | { status: "committed"; transaction: TransactionRecord }
  /** Committed before under the same key and body; only returned. */
  | { status: "replayed"; transactionId: string }
  | { status: "rejected"; rejection: RejectionRecord };

export interface ChainPosition {
  sequence: bigint;
  hash: Buffer;
  /** Commit time of the transaction at `sequence`. */
  createdAt: Date;
}

export interface BatchInputs {
  /** Every account the operations name that exists. Accounts are immutable, so these may come from a cache. */
  accounts: ReadonlyMap<string, AccountRecord>;
  /** The balances of those accounts, read under FOR UPDATE locks. Not modified. */
  balances: ReadonlyMap<string, BalanceRecord>;
  /** Committed transactions under the operations' keys, by idempotencyKeyId(scope, key); only looked up. */
  existingKeys: Pick<ReadonlyMap<string, { transactionId: string; requestHash: Buffer }>, "get" | "has">;
  /** Transactions named by resolve operations (any kind; absent when unknown). */
  pendings: ReadonlyMap<string, TransactionRecord>;
  /** Pending transaction id → kind of the transaction that already resolved it. */
  resolutions: ReadonlyMap<string, TransactionKindName>;
  head: ChainPosition;
  now: Date;
  newId: () => string;
}

export interface BatchPlan {
  /** outcomes[job][operation], in submission order. */
  outcomes: Outcome[][];
  /** New transactions in sequence order, hashed and linked. */
  transactions: TransactionRecord[];
  /** Final state of every balance a committed transaction changed. */
  changedBalances: BalanceRecord[];
  /** PENDING transactions opened by this batch. */
  openedPendings: { transactionId: string; timeoutAt: Date }[];
  /** Pending transactions resolved by this batch. */
  closedPendings: string[];
  head: ChainPosition;
}

/** The accounts the transfers among `operations` name, as debit or credit. */
export function namedAccountIds(operations: readonly Operation[]): Set<string> {
  const named = new Set<string>();
  for (const operation of operations) {
    if (operation.type === "transfer")
      for (const posting of operation.postings) named.add(posting.debitAccountId).add(posting.creditAccountId);
  }
  return named;
}

export function idempotencyKeyId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}

class Rejected extends Error {
  readonly rejection: RejectionRecord;
  constructor(rejection: RejectionRecord) {
    super(rejection.detail);
    this.rejection = rejection;
  }
}

function reject(reason: RejectionReasonName, detail: string, where: { postingIndex?: number; accountId?: string } = {}): never {
  throw new Rejected({ reason, detail, ...where });
}

/** A transaction being built: sequence, hashes and entry sequences are filled in once the batch is decided. */
interface Draft {
  transaction: TransactionRecord;
  touchedAccounts: Set<string>;
}

const totalNames = ["debitsPosted", "creditsPosted", "debitsPending", "creditsPending"] as const;

/** Which flag a balance breaks, if any. */
export function flagViolation(account: AccountRecord, totals: BalanceTotals): "INSUFFICIENT_FUNDS" | "CREDITS_EXCEED_DEBITS" | undefined {
  if (account.debitsMustNotExceedCredits && totals.debitsPosted + totals.debitsPending > totals.creditsPosted) return "INSUFFICIENT_FUNDS";
  if (account.creditsMustNotExceedDebits && totals.creditsPosted + totals.creditsPending > totals.debitsPosted)
    return "CREDITS_EXCEED_DEBITS";
  return undefined;
}

export function planBatch(jobs: readonly Job[], inputs: BatchInputs): BatchPlan {
  // Time never runs backwards along the chain, so time filters and sequence order agree.
  const createdAt = new Date(Math.max(inputs.now.getTime(), inputs.head.createdAt.getTime()));
  const working = new Map<string, BalanceTotals>();
  // What to undo when an operation or an atomic job is rejected, newest last.
  // A balance change is recorded as three slots (totals, total name, value
  // before) rather than a closure: thousands are made per batch and almost
  // none undone. Anything else is one slot holding a function, then two empty.
  const undo: unknown[] = [];
  const drafts: Draft[] = [];
  const batchKeys = new Map<string, { requestHash: Buffer; draft: Draft }>();
  const batchResolutions = new Map<string, TransactionKindName>();

  const onUndo = (action: () => void) => {
    undo.push(action, undefined, undefined);
  };

  const rollBack = (mark: number) => {
    while (undo.length > mark) {
      const before = undo.pop();
      const total = undo.pop() as (typeof totalNames)[number] | undefined;
      const target = undo.pop() as BalanceTotals | (() => void);
      if (typeof target === "function") target();
      else target[total as (typeof totalNames)[number]] = before as bigint;
    }
  };

  const accountOf = (id: string, postingIndex: number): AccountRecord =>
    inputs.accounts.get(id) ?? reject("ACCOUNT_NOT_FOUND", `account ${id} does not exist`, { postingIndex, accountId: id });

  const totalsOf = (id: string): BalanceTotals => {
    let totals = working.get(id);
    if (totals === undefined) {
      const locked = inputs.balances.get(id);
      // An account exists only together with its balance row; a missing one is a bug, not a rejection.
      if (locked === undefined) throw new Error(`ledger: account ${id} has no locked balance row`);
      totals = {
        debitsPosted: locked.debitsPosted,
        creditsPosted: locked.creditsPosted,
        debitsPending: locked.debitsPending,
        creditsPending: locked.creditsPending,
      };
      working.set(id, totals);
    }
    return totals;
  };

  const add = (id: string, total: (typeof totalNames)[number], delta: bigint, postingIndex: number) => {
    const totals = totalsOf(id);
    const before = totals[total];
    const after = before + delta;
    if (after < 0n) throw new Error(`ledger: ${total} of ${id} would become negative (${after})`);
    if (after > amountMinorMax)
      reject("AMOUNT_OVERFLOW", `${total} of account ${id} would exceed NUMERIC(78,0)`, { postingIndex, accountId: id });
    totals[total] = after;
    undo.push(totals, total, before);
  };

  const entryPair = (
    draft: Draft,
    postingIndex: number,
    posting: { debitAccountId: string; creditAccountId: string; currency: Currency },
    amount: bigint,
  ) => {
    const transaction = draft.transaction;
    const entry = (accountId: string, counterpartyAccountId: string, direction: "DEBIT" | "CREDIT"): EntryRecord => {
      const totals = totalsOf(accountId);
      return {
        id: inputs.newId(),
        transactionId: transaction.id,
        sequence: 0n,
        transactionKind: transaction.kind,
        postingIndex,
        accountId,
        counterpartyAccountId,
        direction,
        currency: posting.currency,
        amount,
        postedBalanceAfter: postedBalance(totals),
        availableBalanceAfter: availableBalance(totals),
        reference: transaction.reference,
        createdAt,
      };
    };
    transaction.entries.push(
      entry(posting.debitAccountId, posting.creditAccountId, "DEBIT"),
      entry(posting.creditAccountId, posting.debitAccountId, "CREDIT"),
    );
  };

  /**
   * Rejects the draft if a balance it touched breaks its account's flags,
   * naming the last posting that debits that account. `postings` are the
   * draft's, in order; a posting without postingIndex is numbered by position.
   */
  const checkFlags = (draft: Draft, postings: readonly { debitAccountId: string; postingIndex?: number }[]) => {
    for (const accountId of draft.touchedAccounts) {
      const account = inputs.accounts.get(accountId) as AccountRecord;
      const violation = flagViolation(account, totalsOf(accountId));
      if (violation === undefined) continue;
      const detail =
        violation === "INSUFFICIENT_FUNDS"
          ? `account ${accountId} has insufficient available funds`
          : `credits to account ${accountId} would exceed its debits`;
      let postingIndex = 0;
      for (let position = postings.length - 1; position >= 0; position--) {
        const posting = postings[position] as (typeof postings)[number];
        if (posting.debitAccountId !== accountId) continue;
        postingIndex = posting.postingIndex ?? position;
        break;
      }
      reject(violation, detail, { accountId, postingIndex });
    }
  };

  // The fields a kind sets are arguments rather than an object spread over defaults: one object per transaction, not three.
  const newDraft = (
    operation: Operation,
    kind: TransactionKindName,
    reference: string,
    timeoutAt: Date | null,
    pendingTransactionId: string | null,
    voidReason: string,
  ): Draft => ({
    transaction: {
      id: inputs.newId(),
      sequence: 0n,
      kind,
      idempotencyScope: operation.scope,
      idempotencyKey: operation.idempotencyKey,
      requestHash: operation.requestHash,
      reference,
      metadata: operation.metadata,
      pendingTransactionId,
      timeoutAt,
      voidReason,
      createdBy: operation.createdBy,
      previousHash: genesisHash,
      hash: genesisHash,
      createdAt,
      entries: [],
    },
    touchedAccounts: new Set(),
  });

  const applyTransfer = (operation: TransferOperation): Draft => {
    // Every posting is checked before any balance moves, so a rejection names the first bad posting.
    const postings = operation.postings;
    const holds = (accountId: string, currency: Currency, postingIndex: number) => {
      const account = accountOf(accountId, postingIndex);
      if (account.currency !== currency) {
        reject("CURRENCY_MISMATCH", `account ${accountId} holds ${account.currency}, not ${currency}`, { postingIndex, accountId });
      }
    };
    for (let index = 0; index < postings.length; index++) {
      const posting = postings[index] as PostingInput;
      holds(posting.debitAccountId, posting.currency, index);
      holds(posting.creditAccountId, posting.currency, index);
    }
    const timeoutAt = operation.pending ? new Date(createdAt.getTime() + (operation.pendingTimeoutMs ?? 0)) : null;
    const draft = newDraft(operation, operation.pending ? "PENDING" : "POSTED", operation.reference, timeoutAt, null, "");
    for (let index = 0; index < postings.length; index++) {
      const posting = postings[index] as PostingInput;
      add(posting.debitAccountId, operation.pending ? "debitsPending" : "debitsPosted", posting.amount, index);
      add(posting.creditAccountId, operation.pending ? "creditsPending" : "creditsPosted", posting.amount, index);
      draft.touchedAccounts.add(posting.debitAccountId).add(posting.creditAccountId);
      entryPair(draft, index, posting, posting.amount);
    }
    checkFlags(draft, postings);
    return draft;
  };

  const applyResolve = (operation: ResolveOperation): Draft => {
    const pendingId = operation.pendingTransactionId;
    const pending = inputs.pendings.get(pendingId);
    if (pending === undefined || pending.kind !== "PENDING" || pending.timeoutAt === null) {
      reject("PENDING_NOT_FOUND", `transaction ${pendingId} does not exist or is not pending`);
    }
    const resolvedBy = batchResolutions.get(pendingId) ?? inputs.resolutions.get(pendingId);
    if (resolvedBy === "POST_PENDING") reject("PENDING_ALREADY_POSTED", `pending transaction ${pendingId} was already posted`);
    if (resolvedBy === "VOID_PENDING") reject("PENDING_ALREADY_VOIDED", `pending transaction ${pendingId} was already voided`);
    if (resolvedBy === "EXPIRE_PENDING") reject("PENDING_EXPIRED", `pending transaction ${pendingId} expired`);
    const due = createdAt.getTime() >= pending.timeoutAt.getTime();
    if (operation.action !== "expire" && due)
      reject("PENDING_EXPIRED", `pending transaction ${pendingId} timed out at ${pending.timeoutAt.toISOString()}`);
    if (operation.action === "expire" && !due) reject("PENDING_NOT_FOUND", `pending transaction ${pendingId} is not due to expire yet`);

    const postings = postingsOf(pending.entries);
    const amounts = operation.amounts ?? postings.map((posting) => posting.amount);
    if (operation.action === "post") {
      if (amounts.length !== postings.length) {
        reject(
          "AMOUNT_EXCEEDS_PENDING",
          `pending transaction ${pendingId} has ${postings.length} postings, ${amounts.length} amounts were given`,
        );
      }
      postings.forEach((posting, index) => {
        const currency = operation.amountCurrencies?.[index] ?? posting.currency;
        if (currency !== posting.currency) {
          reject("CURRENCY_MISMATCH", `posting ${posting.postingIndex} reserved ${posting.currency}, not ${currency}`, {
            postingIndex: posting.postingIndex,
          });
        }
        if ((amounts[index] ?? 0n) > posting.amount) {
          reject(
            "AMOUNT_EXCEEDS_PENDING",
            `amount ${amounts[index]} exceeds the ${posting.amount} reserved by posting ${posting.postingIndex}`,
            {
              postingIndex: posting.postingIndex,
            },
          );
        }
      });
    }
    const kind = operation.action === "post" ? "POST_PENDING" : operation.action === "void" ? "VOID_PENDING" : "EXPIRE_PENDING";
    const draft = newDraft(operation, kind, pending.reference, null, pendingId, operation.voidReason);
    postings.forEach((posting, index) => {
      const posted = operation.action === "post" ? (amounts[index] as bigint) : 0n;
      accountOf(posting.debitAccountId, posting.postingIndex);
      accountOf(posting.creditAccountId, posting.postingIndex);
      // The whole reservation is released; whatever is posted moves to posted totals.
      add(posting.debitAccountId, "debitsPending", -posting.amount, posting.postingIndex);
      add(posting.creditAccountId, "creditsPending", -posting.amount, posting.postingIndex);
      if (posted > 0n) {
        add(posting.debitAccountId, "debitsPosted", posted, posting.postingIndex);
        add(posting.creditAccountId, "creditsPosted", posted, posting.postingIndex);
      }
      draft.touchedAccounts.add(posting.debitAccountId).add(posting.creditAccountId);
      // Entries record what was posted (POST_PENDING) or released (VOID, EXPIRE); zero amounts write none.
      const entryAmount = operation.action === "post" ? posted : posting.amount;
      if (entryAmount > 0n) entryPair(draft, posting.postingIndex, posting, entryAmount);
    });
    // Posting at most what was reserved cannot break a flag; checked anyway, as everything is.
    checkFlags(draft, postings);
    const previous = batchResolutions.get(pendingId);
    batchResolutions.set(pendingId, kind);
    onUndo(() => {
      if (previous === undefined) batchResolutions.delete(pendingId);
      else batchResolutions.set(pendingId, previous);
    });
    return draft;
  };

  const apply = (operation: Operation): Outcome => {
    const keyId = idempotencyKeyId(operation.scope, operation.idempotencyKey);
    const committed = inputs.existingKeys.get(keyId);
    if (committed !== undefined) {
      if (committed.requestHash.equals(operation.requestHash)) return { status: "replayed", transactionId: committed.transactionId };
      return conflict(operation);
    }
    const earlier = batchKeys.get(keyId);
    if (earlier !== undefined) {
      if (earlier.requestHash.equals(operation.requestHash)) return { status: "replayed", transactionId: earlier.draft.transaction.id };
      return conflict(operation);
    }
    const mark = undo.length;
    try {
      const draft = operation.type === "transfer" ? applyTransfer(operation) : applyResolve(operation);
      drafts.push(draft);
      batchKeys.set(keyId, { requestHash: operation.requestHash, draft });
      onUndo(() => {
        drafts.pop();
        batchKeys.delete(keyId);
      });
      return { status: "committed", transaction: draft.transaction };
    } catch (error) {
      if (!(error instanceof Rejected)) throw error;
      rollBack(mark);
      return { status: "rejected", rejection: error.rejection };
    }
  };

  const outcomes = jobs.map((job) => {
    const mark = undo.length;
    const results = job.operations.map(apply);
    if (!job.atomic || results.every((result) => result.status !== "rejected")) return results;
    rollBack(mark);
    return results.map(
      (result): Outcome =>
        result.status === "rejected"
          ? result
          : { status: "rejected", rejection: { reason: "BATCH_ABORTED", detail: "another transaction of the atomic batch was rejected" } },
    );
  });

  // The batch is decided: number, link and hash what commits, in order. The
  // working totals are now final; each changed balance ends at the last
  // transaction that touched it.
  let sequence = inputs.head.sequence;
  let hash = inputs.head.hash;
  const lastSequences = new Map<string, bigint>();
  for (const { transaction, touchedAccounts } of drafts) {
    sequence += 1n;
    transaction.sequence = sequence;
    transaction.previousHash = hash;
    for (const entry of transaction.entries) entry.sequence = sequence;
    hash = transactionHash(transaction.previousHash, transaction);
    transaction.hash = hash;
    for (const accountId of touchedAccounts) lastSequences.set(accountId, sequence);
  }
  const head = drafts.length === 0 ? inputs.head : { sequence, hash, createdAt };
  const changedBalances: BalanceRecord[] = [];
  for (const [accountId, lastSequence] of lastSequences) changedBalances.push({ accountId, ...totalsOf(accountId), lastSequence });
  const transactions = drafts.map((draft) => draft.transaction);
  const plan: BatchPlan = {
    outcomes,
    transactions,
    changedBalances,
    openedPendings: transactions
      .filter((transaction) => transaction.kind === "PENDING")
      .map((transaction) => ({ transactionId: transaction.id, timeoutAt: transaction.timeoutAt as Date })),
    closedPendings: transactions.flatMap((transaction) => transaction.pendingTransactionId ?? []),
    head,
  };
  assertPlan(plan, inputs);
  return plan;
}

function conflict(operation: Operation): Outcome {
  return {
    status: "rejected",
    rejection: {
      reason: "IDEMPOTENCY_CONFLICT",
      detail: `idempotency key ${JSON.stringify(operation.idempotencyKey)} was used before with a different request`,
    },
  };
}

/**
 * The engine's promises, checked once more on the finished plan before a byte
 * is written: each posting is one debit and one equal credit, the chain links
 * without gaps, no total is negative and no balance breaks its flags. A failure
 * here is a bug, and the batch is not written.
 */
export function assertPlan(plan: BatchPlan, inputs: Pick<BatchInputs, "accounts" | "head">): void {
  let expected = inputs.head;
  for (const transaction of plan.transactions) {
    if (transaction.sequence !== expected.sequence + 1n || !transaction.previousHash.equals(expected.hash)) {
      throw new Error(`ledger: plan breaks the chain at ${transaction.sequence}`);
    }
    if (transaction.kind !== "POST_PENDING" && transaction.entries.length === 0) {
      throw new Error(`ledger: transaction ${transaction.id} has no entries`);
    }
    for (const entry of transaction.entries) {
      if (entry.amount <= 0n) throw new Error(`ledger: entry ${entry.id} has a non-positive amount`);
      const account = inputs.accounts.get(entry.accountId);
      if (account?.currency !== entry.currency) throw new Error(`ledger: entry ${entry.id} is not in its account's currency`);
    }
    if (!isPairedInOrder(transaction.entries)) assertBalanced(transaction);
    expected = { sequence: transaction.sequence, hash: transaction.hash, createdAt: transaction.createdAt };
  }
  if (plan.head.sequence !== expected.sequence) throw new Error("ledger: plan head does not match its last transaction");
  for (const balance of plan.changedBalances) {
    for (const total of totalNames) {
      if (balance[total] < 0n || balance[total] > amountMinorMax) throw new Error(`ledger: ${total} of ${balance.accountId} out of range`);
    }
    const account = inputs.accounts.get(balance.accountId);
    if (account === undefined || flagViolation(account, balance) !== undefined) {
      throw new Error(`ledger: balance of ${balance.accountId} breaks its account's flags`);
    }
  }
}

/** Every currency sums to zero over the entries, and each posting is one balanced debit and credit. */
function assertBalanced(transaction: TransactionRecord): void {
  const perCurrency = new Map<string, bigint>();
  for (const entry of transaction.entries) {
    const signed = entry.direction === "DEBIT" ? entry.amount : -entry.amount;
    perCurrency.set(entry.currency, (perCurrency.get(entry.currency) ?? 0n) + signed);
  }
  for (const [currency, sum] of perCurrency) {
    if (sum !== 0n) throw new Error(`ledger: transaction ${transaction.id} does not balance in ${currency}`);
  }
  postingsOf(transaction.entries);
}
