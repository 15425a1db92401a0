// CreateAccount, GetAccount, ListAccounts.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { AccountKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type {
  CreateAccountRequest,
  CreateAccountResponseSchema,
  GetAccountRequest,
  GetAccountResponseSchema,
  ListAccountsRequest,
  ListAccountsResponseSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js";
import { alreadyExists, invalidArgument, notFound, permissionDenied, principalOf } from "@trustmesh/runtime";
import { type Currency, isCurrency } from "../domain/money.ts";
import { type AccountKindName, type AccountRecord, accountKinds } from "../domain/records.ts";
import { type AccountWithBalance, createAccount, findAccountWithBalance, listAccounts } from "../store/accounts.ts";
import type { LedgerServiceDependencies } from "./dependencies.ts";
import { decodePageToken, encodePageToken, pageSizeOf } from "./page-token.ts";
import { callerOf, requestHash } from "./requests.ts";
import { accountToProto, balanceToProto } from "./to-proto.ts";

const listAccountsPageDefault = 50;
const listAccountsPageMax = 100;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a CreateAccount request asks for: an account but for what the ledger assigns. */
export type AccountRequestDocument = Omit<AccountRecord, "id" | "createdAt">;

export function createAccountRequestHash(request: AccountRequestDocument): Buffer {
  return requestHash({
    operation: "create_account",
    owner_id: request.ownerId ?? "",
    currency: request.currency,
    kind: request.kind,
    debits_must_not_exceed_credits: String(request.debitsMustNotExceedCredits),
    credits_must_not_exceed_debits: String(request.creditsMustNotExceedDebits),
    address: request.address ?? "",
    metadata: request.metadata,
  });
}

export function accountKindName(kind: AccountKind): AccountKindName | undefined {
  const name = AccountKind[kind];
  return (accountKinds as readonly string[]).includes(name) ? (name as AccountKindName) : undefined;
}

/** The account with its current balance, as a message. */
export function accountWithBalanceToProto({ account, balance }: AccountWithBalance, now: Date) {
  return accountToProto(account, balanceToProto(account, balance, now));
}

/**
 * A user may read only accounts they own; services listed in the rule read any.
 * Following AIP-211, a user gets PERMISSION_DENIED whether or not the account
 * exists, so ids cannot be probed.
 */
export function checkMayRead(context: HandlerContext, account: AccountRecord | undefined, accountId: string): AccountRecord {
  const principal = principalOf(context);
  if (principal?.kind === "user") {
    if (account === undefined || account.ownerId !== principal.userId)
      throw permissionDenied("you may read only your own accounts", "NOT_OWNER");
    return account;
  }
  if (account === undefined) throw notFound("account", accountId);
  return account;
}

export function createAccountHandlers(dependencies: LedgerServiceDependencies) {
  return {
    async createAccount(
      request: CreateAccountRequest,
      context: HandlerContext,
    ): Promise<MessageInitShape<typeof CreateAccountResponseSchema>> {
      const kind = accountKindName(request.kind);
      if (kind === undefined) throw invalidArgument("kind", "must be a real account kind");
      if (!isCurrency(request.currency)) throw invalidArgument("currency", "is not a supported currency");
      const document: AccountRequestDocument = {
        ownerId: request.ownerId === "" ? null : request.ownerId,
        currency: request.currency,
        kind,
        debitsMustNotExceedCredits: request.flags?.debitsMustNotExceedCredits ?? false,
        creditsMustNotExceedDebits: request.flags?.creditsMustNotExceedDebits ?? false,
        address: request.address === "" ? null : request.address,
        metadata: request.metadata,
      };
      // The contract's rules hold these too; the database holds them a third time.
      if (document.debitsMustNotExceedCredits && document.creditsMustNotExceedDebits) {
        throw invalidArgument("flags", "debits_must_not_exceed_credits and credits_must_not_exceed_debits are mutually exclusive");
      }
      if ((kind === "USER_WALLET") !== (document.ownerId !== null))
        throw invalidArgument("owner_id", "a user wallet needs an owner and only it");
      if (kind === "USER_WALLET" && !document.debitsMustNotExceedCredits) {
        throw invalidArgument("flags.debits_must_not_exceed_credits", "a user wallet can never go negative");
      }
      const caller = callerOf(principalOf(context));
      const outcome = await createAccount(dependencies.pool, {
        ...document,
        id: randomUUID(),
        idempotencyScope: caller.scope,
        idempotencyKey: request.idempotencyKey,
        requestHash: createAccountRequestHash(document),
        createdAt: dependencies.now(),
      });
      if (outcome.status === "conflict") {
        switch (outcome.conflict) {
          case "idempotency":
            throw alreadyExists(
              `idempotency_key: ${request.idempotencyKey} was used before with a different request`,
              "IDEMPOTENCY_CONFLICT",
            );
          case "address":
            throw alreadyExists(`address: an account with address ${request.address} exists`, "ADDRESS_TAKEN");
          case "wallet":
            throw alreadyExists(`owner_id: ${request.ownerId} already has a ${request.currency} wallet`, "WALLET_EXISTS");
        }
      }
      return { account: accountWithBalanceToProto(outcome, dependencies.now()), replayed: outcome.status === "replayed" };
    },

    async getAccount(request: GetAccountRequest, context: HandlerContext): Promise<MessageInitShape<typeof GetAccountResponseSchema>> {
      const selector = request.selector;
      if (selector.case === undefined) throw invalidArgument("selector", "give account_id or address");
      const found = await findAccountWithBalance(
        dependencies.pool,
        selector.case === "accountId" ? { id: selector.value } : { address: selector.value },
      );
      checkMayRead(context, found?.account, selector.value);
      return { account: accountWithBalanceToProto(found as AccountWithBalance, dependencies.now()) };
    },

    async listAccounts(
      request: ListAccountsRequest,
      context: HandlerContext,
    ): Promise<MessageInitShape<typeof ListAccountsResponseSchema>> {
      const principal = principalOf(context);
      // The rule's owner_field already holds users to their own id; this keeps it true if the rule changes.
      if (principal?.kind === "user" && request.ownerId !== principal.userId)
        throw permissionDenied("you may list only your own accounts", "NOT_OWNER");
      if (request.currency !== "" && !isCurrency(request.currency)) throw invalidArgument("currency", "is not a supported currency");
      const kind = request.kind === AccountKind.UNSPECIFIED ? undefined : accountKindName(request.kind);
      const filter = {
        ownerId: request.ownerId === "" ? undefined : request.ownerId,
        currency: request.currency === "" ? undefined : (request.currency as Currency),
        kind,
      };
      const filterDocument = { owner_id: request.ownerId, currency: request.currency, kind: kind ?? "" };
      const position = decodePageToken(request.pageToken, filterDocument, ["created_at", "id"]);
      let after: { createdAt: Date; id: string } | undefined;
      if (position !== undefined) {
        const createdAt = new Date(position.created_at as string);
        if (Number.isNaN(createdAt.getTime()) || !uuidPattern.test(position.id as string)) {
          throw invalidArgument("page_token", "is not a token this RPC returned");
        }
        after = { createdAt, id: position.id as string };
      }
      const limit = pageSizeOf(request.pageSize, listAccountsPageDefault, listAccountsPageMax);
      // One extra row tells whether another page exists.
      const rows = await listAccounts(dependencies.pool, filter, after, limit + 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const now = dependencies.now();
      return {
        accounts: page.map((row) => accountWithBalanceToProto(row, now)),
        nextPageToken:
          rows.length > limit && last !== undefined
            ? encodePageToken(filterDocument, { created_at: last.account.createdAt.toISOString(), id: last.account.id })
            : "",
      };
    },
  };
}
