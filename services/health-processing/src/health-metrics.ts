// The service's business metrics, on the runtime's registry (served at /metrics).
// Labels are bounded enums only: never a user, a document or a value.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter, Gauge, Histogram } from "prom-client";

export interface HealthMetrics {
  uploads: Counter<"content_type">;
  stageDuration: Histogram<"stage">;
  jobDuration: Histogram<"outcome">;
  jobs: Counter<"state">;
  failures: Counter<"reason">;
  flags: Counter<"flag">;
  /** Records the outcome of a whole-chain audit verification (see audit/audit-chain-monitor.ts). */
  recordAuditChainVerified(intact: boolean): void;
}

export function createHealthMetrics(metrics: RpcMetrics, queueDepth: () => Promise<number>): HealthMetrics {
  const registers = [metrics.registry];
  const stageBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  new Gauge({
    name: "healthprocessing_queue_depth",
    help: "Jobs queued and waiting for a worker.",
    registers,
    async collect() {
      this.set(await queueDepth());
    },
  });
  const auditChainOk = new Gauge({
    name: "healthprocessing_audit_chain_ok",
    help: "1 when the last whole-chain audit verification found it intact, 0 when it found a broken entry.",
    registers: [],
  });
  const healthMetrics: HealthMetrics = {
    uploads: new Counter({
      name: "healthprocessing_uploads_total",
      help: "Documents accepted, by content type.",
      labelNames: ["content_type"],
      registers,
    }),
    stageDuration: new Histogram({
      name: "healthprocessing_stage_duration_seconds",
      help: "Time each pipeline stage took, in seconds.",
      labelNames: ["stage"],
      buckets: stageBuckets,
      registers,
    }),
    jobDuration: new Histogram({
      name: "healthprocessing_job_duration_seconds",
      help: "Time one attempt took across all stages, by outcome, in seconds.",
      labelNames: ["outcome"],
      buckets: stageBuckets,
      registers,
    }),
    jobs: new Counter({ name: "healthprocessing_jobs_total", help: "Jobs reaching each state.", labelNames: ["state"], registers }),
    failures: new Counter({
      name: "healthprocessing_job_failures_total",
      help: "Failed attempts, by reason.",
      labelNames: ["reason"],
      registers,
    }),
    flags: new Counter({
      name: "healthprocessing_flags_raised_total",
      help: "Lab values flagged, by flag.",
      labelNames: ["flag"],
      registers,
    }),
    recordAuditChainVerified(intact) {
      // Registered on the first verification, not before: an unlabelled gauge
      // always exports a value, and a 0 from a process that has not checked yet
      // would page someone for tampering that nobody found.
      if (!metrics.registry.getSingleMetric("healthprocessing_audit_chain_ok")) metrics.registry.registerMetric(auditChainOk);
      auditChainOk.set(intact ? 1 : 0);
    },
  };
  // Every job state exists from the start, at 0, so rates are defined before the first job.
  for (const state of ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]) healthMetrics.jobs.inc({ state }, 0);
  return healthMetrics;
}
