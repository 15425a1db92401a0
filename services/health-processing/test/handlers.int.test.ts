// Goal: every consent and job RPC, called through createRouterTransport with the
// runtime's interceptor stack on real Postgres and Redis (DESIGN.md §6 level
// two), answers good input correctly and refuses bad input with the right code
// and a message naming the field, changing nothing: consents are recorded,
// replayed and withdrawn; uploads need consent and the right content; GetJob,
// ListJobs, GetResult and ExportFhir serve only the caller's own succeeded jobs;
// WatchJob streams a job until it is done and then ends; RetryJob re-queues only
// a failed job with a retryable reason (FAILED_PRECONDITION otherwise);
// DeleteDocument erases the document, its original, job and result and the
// upload's replay record, leaving the audit trail.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import {
  ConsentSource,
  ConsentType,
  DocumentContentType,
  type Job,
  JobFailureReason,
  JobStatus,
  TextExtractionMethod,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import {
  type Interpretation,
  type InterpretationInput,
  type Interpreter,
  InterpreterUnavailableError,
} from "../src/interpretation/interpreter.ts";
import { createRulesInterpreter } from "../src/interpretation/rules-interpreter.ts";
import { type HandlerHarness, type HealthClient, ocrNotExpected, startHandlerHarness } from "./support/handler-harness.ts";
import { assertKnownValues, knownValues, labReportPdf, noResultsPdf } from "./support/reports.ts";

const allConsents = [
  ConsentType.TERMS_OF_SERVICE,
  ConsentType.PRIVACY_POLICY,
  ConsentType.MEDICAL_DATA_PROCESSING,
  ConsentType.AUTOMATED_INTERPRETATION,
  ConsentType.DATA_RETENTION,
];
const terminal = new Set([JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]);

/** Asserts a ConnectError's code, message and (when given) ErrorInfo reason. */
function rejectsWith(code: Code, message?: RegExp, reason?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(Code[error.code], Code[code], error.message);
    if (message) assert.match(error.message, message);
    if (reason) assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, reason);
    return true;
  };
}

/** The rules engine, or an unreachable provider while `down` is set. */
function createSwitchableInterpreter(): Interpreter & { down: boolean } {
  const rules = createRulesInterpreter();
  return {
    name: rules.name,
    down: false,
    interpret(input: InterpretationInput, signal: AbortSignal): Promise<Interpretation> {
      if (this.down) return Promise.reject(new InterpreterUnavailableError("the provider did not answer"));
      return rules.interpret(input, signal);
    },
  };
}

describe("health-processing handlers through createRouterTransport", function () {
  this.timeout(60_000);
  const interpreter = createSwitchableInterpreter();
  let harness: HandlerHarness;
  let alice: HealthClient;
  let bob: HealthClient;

  async function grantAll(client: HealthClient, idempotencyKey: string, types = allConsents) {
    return client.recordConsent({ consents: types.map((type) => ({ type, version: "1" })), source: ConsentSource.WEB, idempotencyKey });
  }

  async function upload(client: HealthClient, idempotencyKey: string, content?: Uint8Array): Promise<Job> {
    const { job } = await client.uploadDocument({ content: content ?? (await labReportPdf()), fileName: "march.pdf", idempotencyKey });
    assert.ok(job?.document);
    return job;
  }

  /** Follows WatchJob to its end; the stream must close by itself after a terminal status. */
  async function watchToEnd(client: HealthClient, jobId: string): Promise<Job[]> {
    const seen: Job[] = [];
    for await (const { job } of client.watchJob({ jobId }, { timeoutMs: 30_000 })) {
      assert.ok(job);
      seen.push(job);
    }
    return seen;
  }

  async function finished(client: HealthClient, jobId: string): Promise<Job> {
    const last = (await watchToEnd(client, jobId)).at(-1);
    assert.ok(last && terminal.has(last.status), "the stream ended on a terminal status");
    return last;
  }

  async function count(table: string, where: string, value: string): Promise<number> {
    const rows = await harness.query<{ count: string }>(`SELECT count(*) FROM ${table} WHERE ${where} = $1`, [value]);
    return Number(rows[0]?.count);
  }

  before(async () => {
    harness = await startHandlerHarness({ interpreter, ocr: ocrNotExpected, maxAttempts: 1 });
    [alice, bob] = await Promise.all([harness.client("alice"), harness.client("bob")]);
  });

  after(async () => {
    await harness?.close();
  });

  describe("consent", () => {
    it("RecordConsent records each consent with version and source, and replays by idempotency key", async () => {
      const partial = await grantAll(alice, "alice-c1", [ConsentType.TERMS_OF_SERVICE, ConsentType.PRIVACY_POLICY]);
      assert.equal(partial.records.length, 2);
      assert.deepEqual(
        partial.records.map((record) => [record.type, record.version, record.source]),
        [
          [ConsentType.TERMS_OF_SERVICE, "1", ConsentSource.WEB],
          [ConsentType.PRIVACY_POLICY, "1", ConsentSource.WEB],
        ],
      );
      assert.equal(partial.status?.processingAllowed, false);
      assert.deepEqual(partial.status?.missingForProcessing, [ConsentType.MEDICAL_DATA_PROCESSING, ConsentType.AUTOMATED_INTERPRETATION]);
      const replay = await grantAll(alice, "alice-c1", [ConsentType.TERMS_OF_SERVICE, ConsentType.PRIVACY_POLICY]);
      assert.deepEqual(
        replay.records.map((record) => record.consentId),
        partial.records.map((record) => record.consentId),
      );
      assert.equal(await count("consent_record", "user_id", "alice"), 2, "a replay appends nothing");
      const full = await grantAll(alice, "alice-c2");
      assert.equal(full.status?.processingAllowed, true);
      assert.deepEqual(full.status?.missingForProcessing, []);
    });

    it("RecordConsent refuses bad input, naming the field, and records nothing", async () => {
      const before = await count("consent_record", "user_id", "alice");
      await assert.rejects(
        alice.recordConsent({
          consents: [{ type: ConsentType.PRIVACY_POLICY, version: "2" }],
          source: ConsentSource.WEB,
          idempotencyKey: "alice-c1",
        }),
        rejectsWith(Code.AlreadyExists, /idempotency_key/, "IDEMPOTENCY_KEY_REUSED"),
      );
      await assert.rejects(
        alice.recordConsent({ consents: [], source: ConsentSource.WEB, idempotencyKey: "bad-1" }),
        rejectsWith(Code.InvalidArgument, /consents/),
      );
      await assert.rejects(
        alice.recordConsent({
          consents: [
            { type: ConsentType.PRIVACY_POLICY, version: "1" },
            { type: ConsentType.PRIVACY_POLICY, version: "2" },
          ],
          source: ConsentSource.WEB,
          idempotencyKey: "bad-2",
        }),
        rejectsWith(Code.InvalidArgument, /consents/),
      );
      await assert.rejects(
        alice.recordConsent({
          consents: [{ type: ConsentType.PRIVACY_POLICY, version: "1 OR 1=1" }],
          source: ConsentSource.WEB,
          idempotencyKey: "bad-3",
        }),
        rejectsWith(Code.InvalidArgument, /consents\[0\]\.version/),
      );
      await assert.rejects(
        alice.recordConsent({
          consents: [{ type: ConsentType.PRIVACY_POLICY, version: "1" }],
          source: ConsentSource.UNSPECIFIED,
          idempotencyKey: "bad-4",
        }),
        rejectsWith(Code.InvalidArgument, /source/),
      );
      await assert.rejects(
        alice.recordConsent({
          consents: [{ type: ConsentType.PRIVACY_POLICY, version: "1" }],
          source: ConsentSource.WEB,
          idempotencyKey: "",
        }),
        rejectsWith(Code.InvalidArgument, /idempotency_key/),
      );
      const anonymous = await harness.client("anonymous");
      await assert.rejects(grantAll(anonymous, "anon-1"), rejectsWith(Code.Unauthenticated));
      assert.equal(await count("consent_record", "user_id", "alice"), before);
    });

    it("GetConsentStatus derives the state from the history and returns the newest records first", async () => {
      const { status, history } = await alice.getConsentStatus({ historyLimit: 3 });
      assert.equal(status?.consents.length, 5);
      assert.ok(status?.consents.every((state) => state.granted && state.grantedVersion === "1" && state.upToDate));
      assert.equal(history.length, 3);
      const times = history.map((record) => Number(record.recordedAt?.seconds) * 1e9 + (record.recordedAt?.nanos ?? 0));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      assert.equal((await alice.getConsentStatus({})).history.length, 0, "no history unless asked");
      // Bob has given nothing.
      const bobs = await bob.getConsentStatus({ historyLimit: 10 });
      assert.equal(bobs.status?.processingAllowed, false);
      assert.deepEqual(bobs.history, []);
    });

    it("GetConsentStatus refuses a history limit out of bounds and an anonymous caller", async () => {
      await assert.rejects(alice.getConsentStatus({ historyLimit: 101 }), rejectsWith(Code.InvalidArgument, /history_limit/));
      await assert.rejects(alice.getConsentStatus({ historyLimit: -1 }), rejectsWith(Code.InvalidArgument, /history_limit/));
      await assert.rejects((await harness.client("anonymous")).getConsentStatus({}), rejectsWith(Code.Unauthenticated));
    });

    it("WithdrawConsent of data retention keeps processing allowed and gives results an expiry; refuses bad input", async () => {
      const carol = await harness.client("carol");
      await grantAll(carol, "carol-c1");
      harness.startWorker();
      const job = await upload(carol, "carol-u1");
      assert.equal((await finished(carol, job.jobId)).status, JobStatus.SUCCEEDED);
      const [kept] = await harness.query<{ expires_at: Date | null }>("SELECT expires_at FROM lab_report_result WHERE job_id = $1", [
        job.jobId,
      ]);
      assert.equal(kept?.expires_at, null, "with retention consent a result is kept until deleted");

      const withdrawn = await carol.withdrawConsent({
        types: [ConsentType.DATA_RETENTION],
        source: ConsentSource.MOBILE_APP,
        idempotencyKey: "carol-w1",
      });
      assert.equal(withdrawn.records[0]?.type, ConsentType.DATA_RETENTION);
      assert.equal(withdrawn.records[0]?.version, "1", "the withdrawal names the version it withdraws");
      assert.equal(withdrawn.status?.processingAllowed, true);
      assert.deepEqual(withdrawn.cancelledJobIds, []);
      const [expiring] = await harness.query<{ expires_at: Date | null }>("SELECT expires_at FROM lab_report_result WHERE job_id = $1", [
        job.jobId,
      ]);
      assert.ok(expiring?.expires_at && expiring.expires_at > new Date(), "the result now expires with the retention window");

      const before = await count("consent_record", "user_id", "carol");
      for (const [request, field] of [
        [{ types: [], source: ConsentSource.WEB, idempotencyKey: "w-bad-1" }, /types/],
        [
          { types: [ConsentType.PRIVACY_POLICY, ConsentType.PRIVACY_POLICY], source: ConsentSource.WEB, idempotencyKey: "w-bad-2" },
          /types/,
        ],
        [{ types: [ConsentType.UNSPECIFIED], source: ConsentSource.WEB, idempotencyKey: "w-bad-3" }, /types\[0\]/],
        [{ types: [ConsentType.PRIVACY_POLICY], source: ConsentSource.UNSPECIFIED, idempotencyKey: "w-bad-4" }, /source/],
      ] as const) {
        await assert.rejects(carol.withdrawConsent({ ...request, types: [...request.types] }), rejectsWith(Code.InvalidArgument, field));
      }
      await assert.rejects(
        carol.withdrawConsent({ types: [ConsentType.PRIVACY_POLICY], source: ConsentSource.MOBILE_APP, idempotencyKey: "carol-w1" }),
        rejectsWith(Code.AlreadyExists, /idempotency_key/),
      );
      assert.equal(await count("consent_record", "user_id", "carol"), before);
    });

    it("WithdrawConsent of medical data processing cancels queued jobs and deletes their originals", async () => {
      await harness.stopWorker();
      const dave = await harness.client("dave");
      await grantAll(dave, "dave-c1");
      const job = await upload(dave, "dave-u1");
      const withdrawn = await dave.withdrawConsent({
        types: [ConsentType.MEDICAL_DATA_PROCESSING],
        source: ConsentSource.WEB,
        idempotencyKey: "dave-w1",
      });
      assert.deepEqual(withdrawn.cancelledJobIds, [job.jobId]);
      assert.deepEqual(withdrawn.status?.missingForProcessing, [ConsentType.MEDICAL_DATA_PROCESSING]);
      const cancelled = (await dave.getJob({ jobId: job.jobId })).job;
      assert.equal(cancelled?.status, JobStatus.CANCELLED);
      assert.equal(cancelled?.failureReason, JobFailureReason.CONSENT_WITHDRAWN);
      assert.equal(await count("document_original", "document_id", job.document?.documentId ?? ""), 0);
      // A replay answers the same, cancelling nothing twice.
      const replay = await dave.withdrawConsent({
        types: [ConsentType.MEDICAL_DATA_PROCESSING],
        source: ConsentSource.WEB,
        idempotencyKey: "dave-w1",
      });
      assert.deepEqual(replay.cancelledJobIds, [job.jobId]);
      await assert.rejects(upload(dave, "dave-u2"), rejectsWith(Code.FailedPrecondition, /MEDICAL_DATA_PROCESSING/, "CONSENT_REQUIRED"));
    });
  });

  describe("jobs", () => {
    let succeeded: Job;

    before(async () => {
      harness.startWorker();
      succeeded = await upload(alice, "alice-u1");
      assert.equal((await finished(alice, succeeded.jobId)).status, JobStatus.SUCCEEDED);
    });

    it("UploadDocument queues a job with the document's metadata and replays by idempotency key", async () => {
      await harness.stopWorker();
      try {
        const pdf = await labReportPdf();
        const job = await upload(alice, "alice-u2");
        assert.equal(job.status, JobStatus.QUEUED);
        assert.equal(job.document?.fileName, "march.pdf");
        assert.equal(job.document?.contentType, DocumentContentType.PDF);
        assert.equal(job.document?.sizeBytes, BigInt(pdf.length));
        assert.match(job.document?.sha256 ?? "", /^[0-9a-f]{64}$/);
        const replay = await upload(alice, "alice-u2");
        assert.equal(replay.jobId, job.jobId);
        assert.equal(await count("job", "document_id", job.document?.documentId ?? ""), 1);
        await alice.deleteDocument({ documentId: job.document?.documentId ?? "" });
      } finally {
        harness.startWorker();
      }
    });

    it("UploadDocument refuses uploads without consent, by content, by name and by key reuse, storing nothing", async () => {
      const documents = async () => Number((await harness.query<{ count: string }>("SELECT count(*) FROM document"))[0]?.count);
      const before = await documents();
      await assert.rejects(upload(bob, "bob-u1"), rejectsWith(Code.FailedPrecondition, /TERMS_OF_SERVICE/, "CONSENT_REQUIRED"));
      const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(1024, 1)]);
      await assert.rejects(
        alice.uploadDocument({ content: elf, fileName: "report.pdf", idempotencyKey: "elf" }),
        rejectsWith(Code.InvalidArgument, /content: must be a PDF, JPEG or PNG.*application\/x-elf/, "UNSUPPORTED_CONTENT_TYPE"),
      );
      await assert.rejects(
        alice.uploadDocument({ content: new Uint8Array(0), fileName: "empty.pdf", idempotencyKey: "empty" }),
        rejectsWith(Code.InvalidArgument, /content/),
      );
      await assert.rejects(
        alice.uploadDocument({ content: await labReportPdf(), fileName: "../etc/passwd", idempotencyKey: "path" }),
        rejectsWith(Code.InvalidArgument, /file_name/),
      );
      await assert.rejects(
        alice.uploadDocument({ content: await labReportPdf(), fileName: "a.pdf", idempotencyKey: "has space" }),
        rejectsWith(Code.InvalidArgument, /idempotency_key/),
      );
      await assert.rejects(
        alice.uploadDocument({ content: await noResultsPdf(), fileName: "march.pdf", idempotencyKey: "alice-u1" }),
        rejectsWith(Code.AlreadyExists, /idempotency_key/, "IDEMPOTENCY_KEY_REUSED"),
      );
      assert.equal(await documents(), before);
    });

    it("GetJob returns the caller's job; refuses a malformed id, and answers NOT_FOUND for unknown and others' jobs", async () => {
      const { job } = await alice.getJob({ jobId: succeeded.jobId });
      assert.equal(job?.status, JobStatus.SUCCEEDED);
      assert.equal(job?.progressPercent, 100);
      assert.equal(job?.attempt, 1);
      await assert.rejects(alice.getJob({ jobId: "not-a-uuid" }), rejectsWith(Code.InvalidArgument, /job_id/));
      await assert.rejects(alice.getJob({ jobId: crypto.randomUUID() }), rejectsWith(Code.NotFound));
      await assert.rejects(bob.getJob({ jobId: succeeded.jobId }), rejectsWith(Code.NotFound));
    });

    it("ListJobs lists only the caller's jobs, filtered by status; refuses bad paging input", async () => {
      const { jobs } = await alice.listJobs({ statuses: [JobStatus.SUCCEEDED] });
      assert.ok(jobs.some((job) => job.jobId === succeeded.jobId));
      assert.ok(jobs.every((job) => job.status === JobStatus.SUCCEEDED));
      assert.equal((await alice.listJobs({ statuses: [JobStatus.CANCELLED] })).jobs.length, 0);
      assert.equal((await bob.listJobs({})).jobs.length, 0);
      await assert.rejects(alice.listJobs({ pageSize: 101 }), rejectsWith(Code.InvalidArgument, /page_size/));
      await assert.rejects(alice.listJobs({ pageToken: "garbage" }), rejectsWith(Code.InvalidArgument, /page_token/));
      const forged = Buffer.from(JSON.stringify({ t: "yesterday", i: "x" })).toString("base64url");
      await assert.rejects(alice.listJobs({ pageToken: forged }), rejectsWith(Code.InvalidArgument, /page_token/));
      await assert.rejects(
        alice.listJobs({ statuses: [JobStatus.QUEUED, JobStatus.QUEUED] }),
        rejectsWith(Code.InvalidArgument, /statuses/),
      );
    });

    it("WatchJob streams a job from queued through its stages to done, then ends by itself", async () => {
      await harness.stopWorker();
      const job = await upload(alice, "alice-u3");
      const watching = watchToEnd(alice, job.jobId);
      // The worker starts only once the stream is open, so the stream sees the whole run.
      await new Promise((resolve) => setTimeout(resolve, 200));
      harness.startWorker();
      const seen = await watching;
      assert.equal(seen[0]?.status, JobStatus.QUEUED);
      assert.equal(seen.at(-1)?.status, JobStatus.SUCCEEDED);
      assert.equal(seen.at(-1)?.progressPercent, 100);
      assert.ok(seen.some((update) => update.status === JobStatus.RUNNING));
      const progress = seen.map((update) => update.progressPercent);
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
        "progress never goes back",
      );
      // A finished job's stream gives its final state once and ends.
      const again = await watchToEnd(alice, job.jobId);
      assert.deepEqual(
        again.map((update) => update.status),
        [JobStatus.SUCCEEDED],
      );
    });

    it("WatchJob refuses a malformed id and answers NOT_FOUND for unknown and others' jobs", async () => {
      await assert.rejects(watchToEnd(alice, "x"), rejectsWith(Code.InvalidArgument, /job_id/));
      await assert.rejects(watchToEnd(alice, crypto.randomUUID()), rejectsWith(Code.NotFound));
      await assert.rejects(watchToEnd(bob, succeeded.jobId), rejectsWith(Code.NotFound));
    });

    it("GetResult returns the values of a succeeded job; refuses unfinished, unknown and others' jobs", async () => {
      const { result } = await alice.getResult({ jobId: succeeded.jobId });
      assert.ok(result);
      assert.equal(result.jobId, succeeded.jobId);
      assert.equal(result.textExtractionMethod, TextExtractionMethod.PDF_TEXT_LAYER);
      assertKnownValues(result);

      await harness.stopWorker();
      try {
        const queued = await upload(alice, "alice-u4");
        await assert.rejects(
          alice.getResult({ jobId: queued.jobId }),
          rejectsWith(Code.FailedPrecondition, /has not succeeded/, "RESULT_NOT_READY"),
        );
        await alice.deleteDocument({ documentId: queued.document?.documentId ?? "" });
      } finally {
        harness.startWorker();
      }
      await assert.rejects(alice.getResult({ jobId: "x" }), rejectsWith(Code.InvalidArgument, /job_id/));
      await assert.rejects(alice.getResult({ jobId: crypto.randomUUID() }), rejectsWith(Code.NotFound));
      await assert.rejects(bob.getResult({ jobId: succeeded.jobId }), rejectsWith(Code.NotFound));
    });

    it("ExportFhir returns a Bundle of a DiagnosticReport and LOINC-coded Observations; refuses unfinished and others' jobs", async () => {
      const exported = await alice.exportFhir({ jobId: succeeded.jobId });
      assert.equal(exported.mediaType, "application/fhir+json");
      assert.equal(exported.fhirVersion, "4.0.1");
      const bundle = JSON.parse(exported.bundleJson) as {
        resourceType: string;
        id: string;
        entry: { resource: { resourceType: string; code?: { coding?: { system: string; code: string }[] } } }[];
      };
      assert.equal(bundle.resourceType, "Bundle");
      assert.equal(bundle.id, exported.bundleId);
      const observations = bundle.entry.filter((entry) => entry.resource.resourceType === "Observation");
      assert.deepEqual(
        observations.map((entry) => entry.resource.code?.coding?.[0]?.code).sort(),
        knownValues.map((known) => known.loinc).sort(),
      );
      assert.equal(bundle.entry.filter((entry) => entry.resource.resourceType === "DiagnosticReport").length, 1);

      const failedJob = await upload(alice, "alice-u5", await noResultsPdf());
      assert.equal((await finished(alice, failedJob.jobId)).status, JobStatus.FAILED);
      await assert.rejects(alice.exportFhir({ jobId: failedJob.jobId }), rejectsWith(Code.FailedPrecondition, /has not succeeded/));
      await assert.rejects(alice.exportFhir({ jobId: "x" }), rejectsWith(Code.InvalidArgument, /job_id/));
      await assert.rejects(bob.exportFhir({ jobId: succeeded.jobId }), rejectsWith(Code.NotFound));
    });

    it("RetryJob re-queues a job that failed for a retryable reason, which then succeeds", async () => {
      interpreter.down = true;
      let failed: Job;
      try {
        const job = await upload(alice, "alice-u6");
        failed = await finished(alice, job.jobId);
      } finally {
        interpreter.down = false;
      }
      assert.equal(failed.status, JobStatus.FAILED);
      assert.equal(failed.failureReason, JobFailureReason.INTERPRETER_UNAVAILABLE);
      assert.equal(failed.retryable, true);
      await assert.rejects(alice.getResult({ jobId: failed.jobId }), rejectsWith(Code.FailedPrecondition));

      await harness.stopWorker();
      const retried = (await alice.retryJob({ jobId: failed.jobId })).job;
      assert.equal(retried?.status, JobStatus.QUEUED);
      assert.equal(retried?.failureReason, JobFailureReason.UNSPECIFIED);
      // Retrying a job already queued answers it unchanged, so a repeated call after a lost reply is harmless.
      const repeated = (await alice.retryJob({ jobId: failed.jobId })).job;
      assert.equal(repeated?.status, JobStatus.QUEUED);
      assert.equal(repeated?.maxAttempts, retried?.maxAttempts);
      harness.startWorker();
      const done = await finished(alice, failed.jobId);
      assert.equal(done.status, JobStatus.SUCCEEDED);
      assert.equal(done.attempt, 2);
      assert.equal((await alice.getResult({ jobId: failed.jobId })).result?.labResults.length, knownValues.length);
    });

    it("RetryJob refuses with FAILED_PRECONDITION a succeeded, a cancelled, and a non-retryable failed job", async () => {
      await assert.rejects(
        alice.retryJob({ jobId: succeeded.jobId }),
        rejectsWith(Code.FailedPrecondition, /SUCCEEDED.*cannot be retried/, "JOB_NOT_RETRYABLE"),
      );
      const noResults = await upload(alice, "alice-u7", await noResultsPdf());
      const failed = await finished(alice, noResults.jobId);
      assert.equal(failed.failureReason, JobFailureReason.NO_LAB_RESULTS_FOUND);
      assert.equal(failed.retryable, false);
      await assert.rejects(
        alice.retryJob({ jobId: failed.jobId }),
        rejectsWith(Code.FailedPrecondition, /NO_LAB_RESULTS_FOUND/, "JOB_NOT_RETRYABLE"),
      );
      const dave = await harness.client("dave");
      const [cancelled] = (await dave.listJobs({ statuses: [JobStatus.CANCELLED] })).jobs;
      assert.ok(cancelled);
      await assert.rejects(dave.retryJob({ jobId: cancelled.jobId }), rejectsWith(Code.FailedPrecondition, /CANCELLED/));
      // Nothing changed.
      assert.equal((await alice.getJob({ jobId: failed.jobId })).job?.status, JobStatus.FAILED);
      await assert.rejects(alice.retryJob({ jobId: "x" }), rejectsWith(Code.InvalidArgument, /job_id/));
      await assert.rejects(bob.retryJob({ jobId: failed.jobId }), rejectsWith(Code.NotFound));
    });

    it("DeleteDocument erases the document, original, job, result and replay record, and keeps the audit trail", async () => {
      const job = await upload(alice, "alice-u8");
      assert.equal((await finished(alice, job.jobId)).status, JobStatus.SUCCEEDED);
      const documentId = job.document?.documentId ?? "";
      assert.equal(await count("lab_report_result", "job_id", job.jobId), 1);

      // Bob cannot delete it, and his attempt changes nothing.
      await assert.rejects(bob.deleteDocument({ documentId }), rejectsWith(Code.NotFound));
      assert.equal(await count("document", "id", documentId), 1);

      const deleted = await alice.deleteDocument({ documentId });
      assert.equal(deleted.documentId, documentId);
      assert.equal(deleted.originalDeleted, true);
      assert.equal(deleted.resultDeleted, true);
      assert.equal(await count("document", "id", documentId), 0);
      assert.equal(await count("document_original", "document_id", documentId), 0);
      assert.equal(await count("job", "id", job.jobId), 0);
      assert.equal(await count("lab_report_result", "job_id", job.jobId), 0);
      await assert.rejects(alice.getJob({ jobId: job.jobId }), rejectsWith(Code.NotFound));
      await assert.rejects(alice.getResult({ jobId: job.jobId }), rejectsWith(Code.NotFound));
      await assert.rejects(alice.exportFhir({ jobId: job.jobId }), rejectsWith(Code.NotFound));
      // The upload's replay record went with it: the same key now makes a new document.
      const again = await upload(alice, "alice-u8");
      assert.notEqual(again.jobId, job.jobId);
      // The audit entries stay; they hold ids, no health data.
      const audit = await harness.query<{ action: string }>("SELECT action FROM audit_entry WHERE resource_id = $1 ORDER BY sequence", [
        documentId,
      ]);
      assert.deepEqual(
        audit.map((entry) => entry.action),
        ["document.upload", "document.read_original", "document.delete"],
      );
      await assert.rejects(alice.deleteDocument({ documentId }), rejectsWith(Code.NotFound));
      await assert.rejects(alice.deleteDocument({ documentId: "x" }), rejectsWith(Code.InvalidArgument, /document_id/));
      await finished(alice, again.jobId);
    });

    it("VerifyAuditLog answers an admin with an intact chain and refuses a plain user", async () => {
      const admin = await harness.client("root", ["admin"]);
      const verified = await admin.verifyAuditLog({});
      assert.equal(verified.intact, true);
      assert.ok(verified.entriesChecked > 10n);
      await assert.rejects(alice.verifyAuditLog({}), rejectsWith(Code.PermissionDenied));
      await assert.rejects(admin.verifyAuditLog({ fromSequence: -1n }), rejectsWith(Code.InvalidArgument, /from_sequence/));
    });
  });
});
