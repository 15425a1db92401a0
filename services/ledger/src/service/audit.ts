// Reconcile, VerifyChain, GetReport: the admin's view of the whole ledger.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ChainVerificationSchema } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { ChainBreakReason, DiscrepancyKind, ReportPeriod } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import type {
  GetReportRequest,
  GetReportResponseSchema,
  ReconcileRequest,
  ReconcileResponseSchema,
  VerifyChainRequest,
  VerifyChainResponseSchema,
} from "@trustmesh/api/trustmesh/ledger/v1/ledger_service_pb.js";
import { invalidArgument } from "@trustmesh/runtime";
import { reconcile } from "../audit/reconcile.ts";
import { type ChainVerificationRecord, verifyChain } from "../audit/verify-chain.ts";
import { type Currency, isCurrency } from "../domain/money.ts";
import { type ReportPeriodName, readReport, UnknownTimeZoneError } from "../store/report.ts";
import type { LedgerServiceDependencies } from "./dependencies.ts";

const periodNames: Partial<Record<ReportPeriod, ReportPeriodName>> = {
  [ReportPeriod.DAILY]: "day",
  [ReportPeriod.WEEKLY]: "week",
  [ReportPeriod.MONTHLY]: "month",
};

function currenciesOf(values: readonly string[], field: string): Currency[] | null {
  if (values.length === 0) return null;
  return values.map((value, index) => {
    if (!isCurrency(value)) throw invalidArgument(`${field}[${index}]`, "is not a supported currency");
    return value;
  });
}

export function chainToProto(chain: ChainVerificationRecord): MessageInitShape<typeof ChainVerificationSchema> {
  return {
    intact: chain.intact,
    firstSequence: chain.firstSequence,
    lastSequence: chain.lastSequence,
    checkedCount: chain.checkedCount,
    lastHash: chain.lastHash,
    breaks: chain.breaks.map((found) => ({
      reason: ChainBreakReason[found.reason],
      sequence: found.sequence,
      transactionId: found.transactionId,
      expectedHash: found.expectedHash,
      actualHash: found.actualHash,
    })),
    breaksTruncated: chain.breaksTruncated,
    truncated: chain.truncated,
  };
}

export function createAuditHandlers(dependencies: LedgerServiceDependencies) {
  return {
    async reconcile(request: ReconcileRequest): Promise<MessageInitShape<typeof ReconcileResponseSchema>> {
      const report = await reconcile(
        dependencies.pool,
        {
          accountIds: request.accountIds.length === 0 ? null : request.accountIds,
          currencies: currenciesOf(request.currencies, "currencies"),
        },
        dependencies.reconcile,
      );
      dependencies.onReconciled(report);
      return {
        report: {
          id: report.id,
          startedAt: timestampFromDate(report.startedAt),
          finishedAt: timestampFromDate(report.finishedAt),
          asOfSequence: report.asOfSequence,
          clean: report.clean,
          accountsChecked: report.accountsChecked,
          entriesChecked: report.entriesChecked,
          discrepancies: report.discrepancies.map((discrepancy) => ({ ...discrepancy, kind: DiscrepancyKind[discrepancy.kind] })),
          discrepanciesTruncated: report.discrepanciesTruncated,
          currencyTotals: report.currencyTotals,
          chain: chainToProto(report.chain),
        },
      };
    },

    async verifyChain(request: VerifyChainRequest): Promise<MessageInitShape<typeof VerifyChainResponseSchema>> {
      if (request.toSequence !== 0n && request.toSequence < request.fromSequence) {
        throw invalidArgument("to_sequence", "must not be below from_sequence");
      }
      const verification = await verifyChain(dependencies.pool, {
        fromSequence: request.fromSequence,
        toSequence: request.toSequence,
        expectedLastHash: Buffer.from(request.expectedLastHash),
        ...dependencies.chain,
      });
      return { verification: chainToProto(verification) };
    },

    async getReport(request: GetReportRequest): Promise<MessageInitShape<typeof GetReportResponseSchema>> {
      const period = periodNames[request.period];
      if (period === undefined) throw invalidArgument("period", "must be DAILY, WEEKLY or MONTHLY");
      if (request.startTime === undefined) throw invalidArgument("start_time", "is required");
      const timeZone = request.timeZone === "" ? "UTC" : request.timeZone;
      let rows: Awaited<ReturnType<typeof readReport>>;
      try {
        rows = await readReport(dependencies.pool, {
          period,
          startTime: timestampDate(request.startTime),
          periodCount: request.periodCount === 0 ? 1 : request.periodCount,
          timeZone,
          currencies: currenciesOf(request.currencies, "currencies"),
        });
      } catch (error) {
        if (error instanceof UnknownTimeZoneError)
          throw invalidArgument("time_zone", `${JSON.stringify(timeZone)} is not a known IANA time zone`);
        throw error;
      }
      const money = (currency: string, amount: string) => ({ currency, amountMinor: BigInt(amount).toString() });
      return {
        buckets: rows.buckets.map((bucket) => ({
          startTime: timestampFromDate(bucket.start_time),
          endTime: timestampFromDate(bucket.end_time),
          currencies: rows.activity
            .filter((row) => row.bucket === bucket.bucket)
            .map((row) => ({
              currency: row.currency,
              volume: money(row.currency, row.volume),
              transactionCount: BigInt(row.transaction_count),
              postingCount: BigInt(row.posting_count),
              fees: money(row.currency, row.fees),
              deposits: money(row.currency, row.deposits),
              withdrawals: money(row.currency, row.withdrawals),
              pendingOpenedCount: BigInt(row.pending_opened_count),
              pendingVoidedCount: BigInt(row.pending_voided_count),
              pendingExpiredCount: BigInt(row.pending_expired_count),
            })),
        })),
        timeZone,
        asOfSequence: rows.asOfSequence,
        generatedAt: timestampFromDate(dependencies.now()),
      };
    },
  };
}
