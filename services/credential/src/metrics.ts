// credential's business metrics, on the process registry the admin port serves.
// Every label combination is created at zero at start, so dashboards and rates
// have series from the first scrape rather than from the first event.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter } from "prom-client";

export const issuedTypeLabels = ["verified_email", "verified_phone", "verified_identity"] as const;
export const formatLabels = ["vc_jwt", "sd_jwt_vc"] as const;
export const verificationKindLabels = ["credential", "presentation"] as const;
export const statusActionLabels = ["revoke", "suspend", "reinstate"] as const;
export const custodyLabels = ["service", "holder"] as const;

export interface CredentialMetrics {
  readonly issued: Counter<"type" | "format">;
  readonly verifications: Counter<"kind" | "outcome">;
  readonly statusChanges: Counter<"action">;
  readonly didsCreated: Counter<"custody">;
}

/** `outcomes`: "verified" and every failure reason, lower snake case. */
export function createCredentialMetrics(metrics: RpcMetrics, outcomes: readonly string[]): CredentialMetrics {
  const registers = [metrics.registry];
  const issued = new Counter({
    name: "credential_issued_total",
    help: "Credentials issued, by type and format.",
    labelNames: ["type", "format"] as const,
    registers,
  });
  const verifications = new Counter({
    name: "credential_verifications_total",
    help: "Credential and presentation verifications, by outcome (verified, or the first failure's reason).",
    labelNames: ["kind", "outcome"] as const,
    registers,
  });
  const statusChanges = new Counter({
    name: "credential_status_changes_total",
    help: "Revocations, suspensions and reinstatements that changed a credential's status.",
    labelNames: ["action"] as const,
    registers,
  });
  const didsCreated = new Counter({
    name: "credential_dids_created_total",
    help: "Holder DIDs created, by who holds the private key.",
    labelNames: ["custody"] as const,
    registers,
  });
  for (const type of issuedTypeLabels) for (const format of formatLabels) issued.inc({ type, format }, 0);
  for (const kind of verificationKindLabels) for (const outcome of outcomes) verifications.inc({ kind, outcome }, 0);
  for (const action of statusActionLabels) statusChanges.inc({ action }, 0);
  for (const custody of custodyLabels) didsCreated.inc({ custody }, 0);
  return { issued, verifications, statusChanges, didsCreated };
}
