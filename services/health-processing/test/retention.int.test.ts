// Goal: the retention sweeper, on real Postgres, deletes each original once its
// window (set at upload) has passed and not before, keeps the results of users
// who consented to retention, deletes results kept without that consent once
// their time is up, fails a job still waiting for an original that is gone
// (ORIGINAL_EXPIRED, not retryable), and records every deletion in the audit log.
import assert from "node:assert/strict";
import {
  ConsentSource,
  ConsentType,
  type Job,
  JobFailureReason,
  JobStatus,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { createRulesInterpreter } from "../src/interpretation/rules-interpreter.ts";
import { type HandlerHarness, type HealthClient, ocrNotExpected, startHandlerHarness } from "./support/handler-harness.ts";
import { knownValues, labReportPdf } from "./support/reports.ts";

const retentionMs = 3000;
const processingConsents = [
  ConsentType.TERMS_OF_SERVICE,
  ConsentType.PRIVACY_POLICY,
  ConsentType.MEDICAL_DATA_PROCESSING,
  ConsentType.AUTOMATED_INTERPRETATION,
];

describe("retention sweeper", function () {
  this.timeout(60_000);
  let harness: HandlerHarness;

  async function userWith(userId: string, consents: ConsentType[]): Promise<HealthClient> {
    const client = await harness.client(userId);
    await client.recordConsent({
      consents: consents.map((type) => ({ type, version: "1" })),
      source: ConsentSource.WEB,
      idempotencyKey: `${userId}-consent`,
    });
    return client;
  }

  async function processed(client: HealthClient, idempotencyKey: string): Promise<Job> {
    const { job } = await client.uploadDocument({ content: await labReportPdf(), fileName: "march.pdf", idempotencyKey });
    assert.ok(job);
    let last: Job | undefined;
    for await (const update of client.watchJob({ jobId: job.jobId }, { timeoutMs: 30_000 })) last = update.job;
    assert.equal(last?.status, JobStatus.SUCCEEDED);
    return job;
  }

  async function originals(documentId: string): Promise<number> {
    const rows = await harness.query<{ count: string }>("SELECT count(*) FROM document_original WHERE document_id = $1", [documentId]);
    return Number(rows[0]?.count);
  }

  before(async () => {
    harness = await startHandlerHarness({ interpreter: createRulesInterpreter(), ocr: ocrNotExpected, originalRetentionMs: retentionMs });
  });

  after(async () => {
    await harness?.close();
  });

  it("deletes originals after their window and not before; keeps results under retention consent, expires the others", async () => {
    harness.startWorker();
    const keeper = await userWith("keeper", [...processingConsents, ConsentType.DATA_RETENTION]);
    const passer = await userWith("passer", processingConsents);
    const kept = await processed(keeper, "keeper-1");
    const passing = await processed(passer, "passer-1");
    await harness.stopWorker();
    // A third upload waits in the queue, with no worker, past its original's window.
    const waiting = (await keeper.uploadDocument({ content: await labReportPdf(), fileName: "april.pdf", idempotencyKey: "keeper-2" })).job;
    assert.ok(waiting?.document && kept.document && passing.document);
    const window = (job: Job) => Number(job.document?.originalExpiresAt?.seconds) - Number(job.document?.uploadedAt?.seconds);
    assert.ok(Math.abs(window(kept) - retentionMs / 1000) <= 1, "the window is set at upload from the configured retention");

    // Within its window an original stays: the one just uploaded is kept by a sweep now.
    const early = await harness.sweeper.runOnce();
    assert.equal(await originals(waiting.document.documentId), 1);
    assert.equal(early.resultsDeleted, 0);

    const waitingExpiresAtMs =
      Number(waiting.document.originalExpiresAt?.seconds) * 1000 + (waiting.document.originalExpiresAt?.nanos ?? 0) / 1e6;
    await new Promise((resolve) => setTimeout(resolve, waitingExpiresAtMs - Date.now() + 300));
    const late = await harness.sweeper.runOnce();
    assert.equal(early.originalsDeleted + late.originalsDeleted, 3);
    assert.equal(late.resultsDeleted, 1);
    for (const job of [kept, passing, waiting]) assert.equal(await originals(job.document?.documentId ?? ""), 0);

    // The result of the user who consented to retention stays, and its document says the original is gone.
    const keptResult = (await keeper.getResult({ jobId: kept.jobId })).result;
    assert.equal(keptResult?.labResults.length, knownValues.length);
    assert.ok((await keeper.getJob({ jobId: kept.jobId })).job?.document?.originalDeletedAt);
    // Without that consent the result was kept only as long as the original.
    await assert.rejects(passer.getResult({ jobId: passing.jobId }), /not found/i);
    assert.equal((await passer.getJob({ jobId: passing.jobId })).job?.status, JobStatus.SUCCEEDED);

    // The queued job can no longer run: it failed, and retrying cannot help.
    const expired = (await keeper.getJob({ jobId: waiting.jobId })).job;
    assert.equal(expired?.status, JobStatus.FAILED);
    assert.equal(expired?.failureReason, JobFailureReason.ORIGINAL_EXPIRED);
    assert.equal(expired?.retryable, false);
    await assert.rejects(keeper.retryJob({ jobId: waiting.jobId }), /cannot be retried/);

    // Every deletion is in the audit log, by the sweeper; a second run finds nothing left.
    const audit = await harness.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_entry WHERE actor = 'system:sweeper' ORDER BY sequence",
    );
    assert.deepEqual(audit.map((entry) => entry.action).sort(), [
      "document.original_expired",
      "document.original_expired",
      "document.original_expired",
      "result.expired",
    ]);
    assert.deepEqual(await harness.sweeper.runOnce(), { originalsDeleted: 0, resultsDeleted: 0 });
  });
});
