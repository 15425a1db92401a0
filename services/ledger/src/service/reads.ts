// GetBalance and ListEntries: one account's position and statement.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { EntryDirection, TransactionKind } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type {
  GetBalanceRequest,
  GetBalanceResponseSchema,
  ListEntriesRequest,
  ListEntriesResponseSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js";
import { invalidArgument } from "@trustmesh/runtime";
import { type TransactionKindName, transactionKinds } from "../domain/records.ts";
import { findAccountWithBalance } from "../store/accounts.ts";
import { balanceAsOf, type EntryCursor, listEntries } from "../store/entries.ts";
import { checkMayRead } from "./accounts.ts";
import type { LedgerServiceDependencies } from "./dependencies.ts";
import { decodePageToken, encodePageToken, pageSizeOf } from "./page-token.ts";
import { balanceToProto, entryToProto } from "./to-proto.ts";

const listEntriesPageDefault = 100;
const listEntriesPageMax = 1000;
const integerPattern = /^(0|[1-9][0-9]{0,18})$/;

export function createReadHandlers(dependencies: LedgerServiceDependencies) {
  return {
    async getBalance(request: GetBalanceRequest, context: HandlerContext): Promise<MessageInitShape<typeof GetBalanceResponseSchema>> {
      const found = await findAccountWithBalance(dependencies.pool, { id: request.accountId });
      const account = checkMayRead(context, found?.account, request.accountId);
      const now = dependencies.now();
      if (request.asOf === undefined) {
        const balance = found?.balance;
        if (balance === undefined) throw new Error(`ledger: account ${account.id} has no balance`);
        return { balance: balanceToProto(account, balance, now) };
      }
      const asOf = timestampDate(request.asOf);
      if (asOf.getTime() > now.getTime()) throw invalidArgument("as_of", "must not be in the future");
      const past = await balanceAsOf(dependencies.pool, account.id, asOf);
      return { balance: balanceToProto(account, past, asOf) };
    },

    async listEntries(request: ListEntriesRequest, context: HandlerContext): Promise<MessageInitShape<typeof ListEntriesResponseSchema>> {
      const found = await findAccountWithBalance(dependencies.pool, { id: request.accountId });
      checkMayRead(context, found?.account, request.accountId);
      const startTime = request.startTime === undefined ? undefined : timestampDate(request.startTime);
      const endTime = request.endTime === undefined ? undefined : timestampDate(request.endTime);
      if (startTime !== undefined && endTime !== undefined && startTime >= endTime) {
        throw invalidArgument("start_time", "must be before end_time");
      }
      const kinds = request.kinds.map((kind, index) => {
        const name = TransactionKind[kind];
        if (!(transactionKinds as readonly string[]).includes(name))
          throw invalidArgument(`kinds[${index}]`, "must be a real transaction kind");
        return name as TransactionKindName;
      });
      const direction =
        request.direction === EntryDirection.DEBIT ? "DEBIT" : request.direction === EntryDirection.CREDIT ? "CREDIT" : undefined;
      const filter = {
        accountId: request.accountId,
        startTime,
        endTime,
        transactionId: request.transactionId === "" ? undefined : request.transactionId,
        reference: request.reference === "" ? undefined : request.reference,
        direction,
        kinds: kinds.length === 0 ? undefined : kinds,
      } as const;
      const filterDocument = {
        account_id: request.accountId,
        start_time: startTime?.toISOString() ?? "",
        end_time: endTime?.toISOString() ?? "",
        transaction_id: request.transactionId,
        reference: request.reference,
        direction: direction ?? "",
        kinds: [...kinds].sort(),
        oldest_first: String(request.oldestFirst),
      };
      const position = decodePageToken(request.pageToken, filterDocument, ["sequence", "posting_index"]);
      let after: EntryCursor | undefined;
      if (position !== undefined) {
        if (!integerPattern.test(position.sequence as string) || !integerPattern.test(position.posting_index as string)) {
          throw invalidArgument("page_token", "is not a token this RPC returned");
        }
        after = { sequence: BigInt(position.sequence as string), postingIndex: Number(position.posting_index) };
      }
      const limit = pageSizeOf(request.pageSize, listEntriesPageDefault, listEntriesPageMax);
      const rows = await listEntries(dependencies.pool, filter, after, request.oldestFirst, limit + 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        entries: page.map(entryToProto),
        nextPageToken:
          rows.length > limit && last !== undefined
            ? encodePageToken(filterDocument, { sequence: last.sequence.toString(), posting_index: String(last.postingIndex) })
            : "",
      };
    },
  };
}
