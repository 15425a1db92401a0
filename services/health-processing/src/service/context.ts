// What every handler shares: its dependencies, the caller, the request id, and
// the audit and consent helpers.
import { randomUUID } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { ConsentType } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { failedPrecondition, type Logger, requireUserId, type Sealer } from "@trustmesh/runtime";
import { consentTypeName, deriveConsentStatus, type RequiredConsentVersions } from "../consent/consent-status.ts";
import type { HealthMetrics } from "../health-metrics.ts";
import type { JobEvents } from "../job-events.ts";
import { latestConsents } from "../store/consent-store.ts";
import { type AuditEvent, appendAudit, type Prisma, type Transaction, transactionOptions } from "../store/prisma.ts";

export interface HandlerDependencies {
  prisma: Prisma;
  sealer: Sealer;
  events: JobEvents;
  metrics: HealthMetrics;
  logger: Logger;
  requiredConsentVersions: RequiredConsentVersions;
  originalRetentionMs: number;
  maxAttempts: number;
  watchPollMs: number;
}

/** A caller's request id when it is a sane one, else a fresh one, so audit entries tie to logs. */
export function requestIdOf(context: HandlerContext): string {
  const given = context.requestHeader.get("x-request-id");
  return given !== null && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

export interface Caller {
  userId: string;
  actor: string;
  requestId: string;
}

export function callerOf(context: HandlerContext): Caller {
  const userId = requireUserId(context);
  return { userId, actor: `user:${userId}`, requestId: requestIdOf(context) };
}

export function auditEvent(caller: Caller, action: string, resourceType: AuditEvent["resourceType"], resourceId: string): AuditEvent {
  return { actor: caller.actor, action, resourceType, resourceId, requestId: caller.requestId };
}

/** Appends audit entries in a transaction of their own, for reads. */
export function recordAudit(prisma: Prisma, events: readonly AuditEvent[]): Promise<void> {
  return prisma.$transaction((transaction) => appendAudit(transaction, events), transactionOptions);
}

export async function consentStatusOf(client: Prisma | Transaction, userId: string, required: RequiredConsentVersions) {
  const { latest, latestGrants } = await latestConsents(client, userId);
  return deriveConsentStatus(latest, latestGrants, required);
}

/** FAILED_PRECONDITION naming the consents processing still needs. */
export function consentRequired(missing: readonly ConsentType[]) {
  const names = missing.map(consentTypeName);
  return failedPrecondition(
    `processing requires these consents, granted in their current version: ${names.join(", ")}`,
    "CONSENT_REQUIRED",
    {
      missing_consents: names.join(","),
    },
  );
}

/** "TERMS_OF_SERVICE=2025-01,PRIVACY_POLICY=3" → map; unnamed types require version "1". */
export function parseConsentVersions(spec: string): RequiredConsentVersions {
  const versions = new Map<ConsentType, string>(
    [
      ConsentType.TERMS_OF_SERVICE,
      ConsentType.PRIVACY_POLICY,
      ConsentType.MEDICAL_DATA_PROCESSING,
      ConsentType.AUTOMATED_INTERPRETATION,
      ConsentType.DATA_RETENTION,
    ].map((type) => [type, "1"]),
  );
  for (const entry of spec
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [name, version] = entry.split("=");
    const type = ConsentType[name as keyof typeof ConsentType];
    if (typeof type !== "number" || type === ConsentType.UNSPECIFIED || !version || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(version)) {
      throw new Error(`HEALTH_CONSENT_VERSIONS: "${entry}" is not TYPE=version with a known consent type`);
    }
    versions.set(type, version);
  }
  return versions;
}
