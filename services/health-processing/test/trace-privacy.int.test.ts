// Goal: two promises checked on a real process exporting its traces to an OTLP
// receiver: a scanned PDF (a page that is only an image, no text layer) is read
// by OCR and yields the report's values, units and flags; and across whole
// pipelines (a text PDF and that scanned PDF) and the RPCs that read their
// results, no span name, attribute, event or status carries a lab value, a unit
// with its value, a test name or any text of the report.
import assert from "node:assert/strict";
import {
  ConsentSource,
  ConsentType,
  JobStatus,
  TextExtractionMethod,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import {
  type OtlpReceiver,
  type PostgresServer,
  type ReceivedSpan,
  type RedisServer,
  type RunningServices,
  randomKeyEncryptionKeys,
  startOtlpReceiver,
  startPostgres,
  startRedis,
  startServices,
} from "@trustmesh/testkit";
import { createHealthClient, createTokenMinter, type HealthClient, type HealthProcess, startHealthProcess } from "./support/platform.ts";
import { assertKnownValues, documentOnlyMarker, knownValues, labReportPdf, scannedLabReportPdf } from "./support/reports.ts";

/** Everything a span says, as text: its name, status, attributes and events. */
function spanText(span: ReceivedSpan): string {
  return JSON.stringify([span.name, span.statusMessage, span.attributes, span.events]);
}

/**
 * The health data found in a text: test names, units, values and report words.
 * Numbers count only standing alone, and ids (UUIDs, hex trace ids) are removed
 * first, so "187" inside an id is not taken for the glucose value.
 */
function healthDataIn(text: string): string[] {
  const withoutIds = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>")
    .replace(/\b[0-9a-f]{16,}\b/gi, "<hex>");
  const found: string[] = [];
  for (const word of [
    documentOnlyMarker,
    "Laboratory Report",
    "Reference Range",
    "Collected",
    "fasting",
    "march.pdf",
    "scan.pdf",
    ...knownValues.flatMap((known) => [known.name.split(",")[0] ?? known.name, known.unit, known.range]),
  ]) {
    if (withoutIds.toLowerCase().includes(word.toLowerCase())) found.push(word);
  }
  for (const known of knownValues) {
    const value = known.value.replace(".", "\\.");
    if (new RegExp(`(?<![\\w.])${value}(?![\\w]|\\.\\d)`).test(withoutIds)) found.push(known.value);
  }
  return found;
}

describe("health-processing: scanned PDFs and what traces hold", function () {
  this.timeout(180_000);
  const keys = randomKeyEncryptionKeys();
  let postgres: PostgresServer;
  let redis: RedisServer;
  let receiver: OtlpReceiver;
  let auth: RunningServices;
  let service: HealthProcess;
  let erin: HealthClient;
  const jobIds: string[] = [];

  async function process(content: Uint8Array, fileName: string, idempotencyKey: string) {
    const { job } = await erin.uploadDocument({ content, fileName, idempotencyKey });
    assert.ok(job);
    jobIds.push(job.jobId);
    for await (const update of erin.watchJob({ jobId: job.jobId }, { timeoutMs: 90_000 })) {
      if (update.job?.status === JobStatus.SUCCEEDED || update.job?.status === JobStatus.FAILED) {
        assert.equal(update.job.status, JobStatus.SUCCEEDED, update.job.failureMessage);
      }
    }
    const { result } = await erin.getResult({ jobId: job.jobId });
    assert.ok(result);
    await erin.exportFhir({ jobId: job.jobId });
    return result;
  }

  before(async () => {
    [postgres, redis, receiver] = await Promise.all([startPostgres(), startRedis(), startOtlpReceiver()]);
    const authDatabase = await postgres.createDatabase("hp_trace_auth");
    auth = await startServices({ names: ["auth"], databaseUrlFor: async () => authDatabase, redisUrl: redis.url, keyEncryptionKeys: keys });
    const mint = await createTokenMinter(authDatabase, keys);
    service = await startHealthProcess({
      DATABASE_URL: await postgres.createDatabase("hp_trace"),
      REDIS_URL: redis.url,
      AUTH_GRPC_URL: auth.services.auth?.grpcUrl ?? "",
      HEALTH_KEK_RING: keys.ring,
      HEALTH_KEK_ACTIVE_ID: keys.activeId,
      HEALTH_WORKER_POLL_MS: "200",
      HEALTH_WATCH_POLL_MS: "300",
      HEALTH_WORKER_CONCURRENCY: "1",
      LOG_LEVEL: "debug",
      OTEL_SERVICE_NAME: "health-processing",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    erin = createHealthClient(service.grpcUrl, await mint("erin"));
    await erin.recordConsent({
      consents: [
        ConsentType.TERMS_OF_SERVICE,
        ConsentType.PRIVACY_POLICY,
        ConsentType.MEDICAL_DATA_PROCESSING,
        ConsentType.AUTOMATED_INTERPRETATION,
        ConsentType.DATA_RETENTION,
      ].map((type) => ({ type, version: "1" })),
      source: ConsentSource.WEB,
      idempotencyKey: "erin-consent",
    });
  });

  after(async () => {
    await service?.stop();
    await auth?.stop();
    await Promise.all([receiver?.close(), redis?.stop(), postgres?.stop()]);
  });

  it("reads a scanned PDF with no text layer through OCR: the values, units and flags of the report", async () => {
    const scanned = await scannedLabReportPdf();
    assert.ok(!scanned.includes(Buffer.from("Glucose")), "the scanned PDF holds no text, only an image");
    const result = await process(scanned, "scan.pdf", "erin-scan");
    assert.equal(result.textExtractionMethod, TextExtractionMethod.OCR);
    assertKnownValues(result);
    assert.ok(result.confidence > 0.6, `confidence ${result.confidence}`);
  });

  it("exports spans of whole pipelines and of result reads that hold no lab value, unit, test name or report text", async () => {
    const result = await process(await labReportPdf(), "march.pdf", "erin-text");
    assert.equal(result.textExtractionMethod, TextExtractionMethod.PDF_TEXT_LAYER);
    // The detector finds health data where there is some: in the result itself.
    assert.ok(healthDataIn(JSON.stringify(result.labResults)).length >= knownValues.length * 2);

    const spans = await receiver.waitFor((all) => {
      const jobSpans = all.filter((span) => span.name === "healthprocessing.job");
      return (
        jobIds.every((jobId) => jobSpans.some((span) => span.attributes["job.id"] === jobId)) &&
        all.filter((span) => span.name.endsWith("/ExportFhir")).length === jobIds.length
      );
    }, 30_000);
    const ours = spans.filter((span) => span.serviceName === "health-processing");
    // The pipeline's own spans and the database work under them were exported, not just RPCs.
    const jobSpans = ours.filter((span) => span.name === "healthprocessing.job");
    const underJobs = ours.filter((span) => jobSpans.some((job) => job.spanId === span.parentSpanId));
    assert.ok(underJobs.length > 5, `spans under the job spans: ${underJobs.length}`);
    for (const method of ["UploadDocument", "WatchJob", "GetResult", "ExportFhir"]) {
      assert.ok(
        ours.some((span) => span.name === `trustmesh.healthprocessing.v1.HealthProcessingService/${method}`),
        method,
      );
    }
    for (const span of ours) {
      assert.deepEqual(healthDataIn(spanText(span)), [], `span ${span.name} holds health data: ${spanText(span).slice(0, 500)}`);
    }
    assert.deepEqual(Object.keys(jobSpans[0]?.attributes ?? {}).sort(), ["job.attempt", "job.id"]);
    // Nor do the logs of the OCR run.
    assert.deepEqual(healthDataIn(service.output()), []);
  });
});
