// Goal: a batch commit, which carries many callers' transfers, is traced as a
// trace of its own: a root "ledger.commit_batch" span linked to the server span
// of every PostTransaction it carried, each of those linked back to it, and the
// commit's Postgres statements inside it — never filed under whichever caller
// happened to start the batch. Spans come from the real ledger process through
// an OTLP receiver.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { LedgerService } from "@trustmesh/api";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "@trustmesh/testkit";
import { createWallet, posting, systemAccount } from "./support/fixtures.ts";
import { type LedgerPlatform, startLedgerPlatform } from "./support/ledger-platform.ts";

const postTransactionSpanName = `${LedgerService.typeName}/PostTransaction`;

const isBatch = (span: ReceivedSpan) => span.serviceName === "ledger" && span.name === "ledger.commit_batch";

/** A Postgres statement of a batch commit (the planned commit, or the write and lock of one planned under the lock). */
const isCommitStatement = (span: ReceivedSpan) =>
  (span.attributes["db.system.name"] ?? span.attributes["db.system"]) === "postgresql" &&
  /ledger_\w+_batch/.test(String(span.attributes["db.query.text"] ?? span.attributes["db.statement"] ?? ""));

describe("ledger batch tracing", function () {
  this.timeout(120_000);
  let receiver: OtlpReceiver;
  let platform: LedgerPlatform;
  let payments: string;
  let world: string;

  before(async () => {
    receiver = await startOtlpReceiver();
    platform = await startLedgerPlatform({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
    payments = await platform.serviceToken("payments");
    world = await systemAccount(platform, payments, "system:external:sandbox", "USD");
  });

  after(async () => {
    await platform?.stop();
    await receiver?.close();
  });

  it("links every PostTransaction to the batch that committed it, and the batch to every caller", async () => {
    const wallets = await Promise.all(Array.from({ length: 8 }, () => createWallet(platform, payments, randomUUID(), "USD")));
    const traceIds = wallets.map(() => randomBytes(16).toString("hex"));
    // Sent together, so that batches carry several callers.
    await Promise.all(
      wallets.map((wallet, index) =>
        platform.call(
          LedgerService.method.postTransaction,
          { transaction: { idempotencyKey: `trace:${randomUUID()}`, postings: [posting(world, wallet, "USD", 100n)] } },
          payments,
          { traceparent: `00-${traceIds[index]}-${randomBytes(8).toString("hex")}-01` },
        ),
      ),
    );

    const serverSpan = (spans: ReceivedSpan[], traceId: string) =>
      spans.find(
        (span) => span.serviceName === "ledger" && span.kind === 2 && span.traceId === traceId && span.name === postTransactionSpanName,
      );
    const batchOf = (spans: ReceivedSpan[], server: ReceivedSpan) =>
      spans.find((span) => isBatch(span) && server.links.some((link) => link.traceId === span.traceId && link.spanId === span.spanId));
    const statementsOf = (spans: ReceivedSpan[], batch: ReceivedSpan) =>
      spans.filter((span) => isCommitStatement(span) && span.traceId === batch.traceId && span.parentSpanId === batch.spanId);
    // Each process exports in its own time: wait until every caller's batch and its statements are in.
    const spans = await receiver.waitFor((all) =>
      traceIds.every((traceId) => {
        const server = serverSpan(all, traceId);
        const batch = server && batchOf(all, server);
        return batch !== undefined && statementsOf(all, batch).length > 0;
      }),
    );

    const batches = new Map<string, ReceivedSpan>();
    for (const traceId of traceIds) {
      const server = serverSpan(spans, traceId) as ReceivedSpan;
      assert.equal(server.links.length, 1, "the call links to the one batch that carried its transfer");
      const batch = batchOf(spans, server) as ReceivedSpan;
      assert.notEqual(batch.traceId, traceId, "the batch is a trace of its own");
      assert.equal(batch.parentSpanId, "", "the batch span is a root");
      assert.ok(
        batch.links.some((link) => link.traceId === traceId && link.spanId === server.spanId),
        "the batch links back to the caller's server span",
      );
      const misfiled = spans.filter((span) => span.traceId === traceId && isCommitStatement(span));
      assert.deepEqual(
        misfiled.map((span) => span.name),
        [],
        "no batch commit statement is in a caller's trace",
      );
      batches.set(batch.spanId, batch);
    }
    // Every batch names how many callers it carried, and those are exactly its links.
    let carried = 0;
    for (const batch of batches.values()) {
      assert.equal(batch.attributes["ledger.batch.jobs"], batch.links.length);
      carried += batch.links.filter((link) => traceIds.includes(link.traceId)).length;
    }
    assert.equal(carried, traceIds.length, "each call was carried by exactly one batch");
  });
});
