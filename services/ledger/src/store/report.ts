// GetReport's query: per-currency activity in consecutive day, ISO-week or
// month buckets cut at midnight of a time zone. Buckets are computed by
// PostgreSQL on local wall-clock time and converted back to instants, so a
// day with a DST change is 23 or 25 hours long, as it should be.
import type pg from "pg";
import type { Currency } from "../domain/money.ts";
import { inTransaction } from "./database.ts";

export type ReportPeriodName = "day" | "week" | "month";

export interface ReportRequest {
  period: ReportPeriodName;
  startTime: Date;
  periodCount: number;
  timeZone: string;
  currencies: Currency[] | null;
}

export interface ReportBucketRow {
  bucket: number;
  start_time: Date;
  end_time: Date;
}

export interface ReportActivityRow {
  bucket: number;
  currency: string;
  volume: string;
  transaction_count: string;
  posting_count: string;
  fees: string;
  deposits: string;
  withdrawals: string;
  pending_opened_count: string;
  pending_voided_count: string;
  pending_expired_count: string;
}

export interface ReportRows {
  buckets: ReportBucketRow[];
  activity: ReportActivityRow[];
  asOfSequence: bigint;
}

/** Thrown when PostgreSQL does not know the time zone. */
export class UnknownTimeZoneError extends Error {}

const bucketsSql = `
  WITH origin AS (SELECT date_trunc($1, $2::timestamptz, $3) AT TIME ZONE $3 AS local_start)
  SELECT i AS bucket,
    ((SELECT local_start FROM origin) + make_interval(days => i * $4, months => i * $5)) AT TIME ZONE $3 AS start_time,
    ((SELECT local_start FROM origin) + make_interval(days => (i + 1) * $4, months => (i + 1) * $5)) AT TIME ZONE $3 AS end_time
  FROM generate_series(0, $6 - 1) AS i`;

const posted = "e.transaction_kind IN ('POSTED', 'POST_PENDING')";

export async function readReport(pool: pg.Pool, request: ReportRequest): Promise<ReportRows> {
  const days = request.period === "day" ? 1 : request.period === "week" ? 7 : 0;
  const months = request.period === "month" ? 1 : 0;
  const bucketValues = [request.period, request.startTime, request.timeZone, days, months, request.periodCount];
  return inTransaction(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", async (client) => {
    let buckets: ReportBucketRow[];
    try {
      buckets = (await client.query<ReportBucketRow>(bucketsSql, bucketValues)).rows;
    } catch (error) {
      // 22023 invalid_parameter_value: "time zone ... not recognized".
      if ((error as { code?: string }).code === "22023") throw new UnknownTimeZoneError(request.timeZone);
      throw error;
    }
    const activity = await client.query<ReportActivityRow>(
      `WITH buckets AS (${bucketsSql})
       SELECT b.bucket, e.currency,
         COALESCE(sum(e.amount) FILTER (WHERE e.direction = 'CREDIT' AND ${posted}), 0) AS volume,
         count(DISTINCT e.transaction_id) FILTER (WHERE ${posted}) AS transaction_count,
         count(*) FILTER (WHERE e.direction = 'CREDIT' AND ${posted}) AS posting_count,
         GREATEST(COALESCE(sum(CASE e.direction WHEN 'CREDIT' THEN e.amount ELSE -e.amount END)
           FILTER (WHERE a.kind = 'FEE_REVENUE' AND ${posted}), 0), 0) AS fees,
         COALESCE(sum(e.amount) FILTER (WHERE a.kind = 'EXTERNAL_RAIL' AND e.direction = 'DEBIT' AND ${posted}), 0) AS deposits,
         COALESCE(sum(e.amount) FILTER (WHERE a.kind = 'EXTERNAL_RAIL' AND e.direction = 'CREDIT' AND ${posted}), 0) AS withdrawals,
         count(DISTINCT e.transaction_id) FILTER (WHERE e.transaction_kind = 'PENDING') AS pending_opened_count,
         count(DISTINCT e.transaction_id) FILTER (WHERE e.transaction_kind = 'VOID_PENDING') AS pending_voided_count,
         count(DISTINCT e.transaction_id) FILTER (WHERE e.transaction_kind = 'EXPIRE_PENDING') AS pending_expired_count
       FROM buckets b
       JOIN ledger_transaction t ON t.created_at >= b.start_time AND t.created_at < b.end_time
       JOIN ledger_entry e ON e.transaction_id = t.id
       JOIN account a ON a.id = e.account_id
       WHERE $7::text[] IS NULL OR e.currency = ANY($7::text[])
       GROUP BY b.bucket, e.currency
       ORDER BY b.bucket, e.currency`,
      [...bucketValues, request.currencies],
    );
    const head = await client.query<{ sequence: string }>("SELECT sequence FROM chain_head WHERE id = 1");
    return { buckets, activity: activity.rows, asOfSequence: BigInt(head.rows[0]?.sequence ?? "0") };
  });
}
