// auth's business counters, on the runtime's registry so /metrics serves them
// beside the RPC metrics. The names and labels are the observability catalog's
// (observability/src/metrics-catalog.ts). Every label combination is created
// at zero when the process starts: a series that appears only with its first
// event makes rate() and increase() blind to that event, and dashboards show
// "no data" where the truth is 0.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter } from "prom-client";

export const loginOutcomes = ["success", "mfa_required", "wrong_credentials", "locked", "unverified", "rate_limited"] as const;
/** The `method` label of auth_mfa_total. */
export const mfaMethods = ["totp", "recovery_code", "passkey"] as const;
/** The `outcome` label of auth_mfa_total: passed, or why not. */
export const mfaOutcomes = ["succeeded", "rejected", "replayed", "counter_regressed", "exhausted", "invalid_token"] as const;
export const refreshOutcomes = ["rotated", "reused", "invalid"] as const;
export const codeChannels = ["email", "sms"] as const;
export const codeFlows = ["contact", "password_reset"] as const;
export const notificationKinds = [
  "verification_code",
  "account_exists",
  "password_reset_code",
  "contact_in_use",
  "password_changed",
  "second_factor_changed",
] as const;
export const serviceTokenOutcomes = ["issued", "refused", "out_of_scope"] as const;
export const outboxOutcomes = ["delivered", "failed"] as const;

export type MfaMethodLabel = (typeof mfaMethods)[number];
export type MfaOutcome = (typeof mfaOutcomes)[number];

export interface AuthMetrics {
  logins: Counter<"outcome">;
  mfa: Counter<"method" | "outcome">;
  refreshes: Counter<"outcome">;
  reuseDetections: Counter;
  lockouts: Counter;
  codesSent: Counter<"channel" | "flow">;
  codesConfirmed: Counter<"channel" | "flow">;
  notifications: Counter<"channel" | "kind" | "outcome">;
  serviceTokens: Counter<"outcome">;
  outboxDeliveries: Counter<"topic" | "outcome">;
}

/** Every combination of the given label values, as label objects. */
function combinations<L extends string>(values: Record<L, readonly string[]>): Record<L, string>[] {
  let result: Record<string, string>[] = [{}];
  for (const [label, options] of Object.entries(values) as [L, readonly string[]][]) {
    result = result.flatMap((partial) => options.map((value) => ({ ...partial, [label]: value })));
  }
  return result as Record<L, string>[];
}

function counter<L extends string>(registry: RpcMetrics["registry"], name: string, help: string, labels: Record<L, readonly string[]>) {
  const created = new Counter<L>({ name, help, labelNames: Object.keys(labels) as L[], registers: [registry] });
  if (Object.keys(labels).length === 0) created.inc(0);
  else for (const combination of combinations(labels)) created.inc(combination as Partial<Record<L, string>>, 0);
  return created;
}

export function createAuthMetrics(registry: RpcMetrics["registry"], outboxTopics: readonly string[] = []): AuthMetrics {
  return {
    logins: counter(
      registry,
      "auth_logins_total",
      "Sign-in attempts (password, and passkey alone) by outcome: success, mfa_required, wrong_credentials, locked, unverified, rate_limited.",
      { outcome: loginOutcomes },
    ),
    mfa: counter(
      registry,
      "auth_mfa_total",
      "Second-factor checks (CompleteMfa, ConfirmTotp, DisableTotp, passkey sign-in) by method and outcome.",
      { method: mfaMethods, outcome: mfaOutcomes },
    ),
    refreshes: counter(registry, "auth_token_refreshes_total", "Refresh-token exchanges by outcome: rotated, reused, invalid.", {
      outcome: refreshOutcomes,
    }),
    reuseDetections: counter(
      registry,
      "auth_refresh_token_reuse_total",
      "Refresh tokens presented again after rotation; each revoked its session.",
      {},
    ),
    lockouts: counter(registry, "auth_lockouts_total", "Accounts (or unknown identifiers) locked after repeated failures.", {}),
    codesSent: counter(
      registry,
      "auth_verification_codes_sent_total",
      "Codes sent, by channel (email, sms) and flow (contact, password_reset).",
      {
        channel: codeChannels,
        flow: codeFlows,
      },
    ),
    codesConfirmed: counter(registry, "auth_verification_codes_confirmed_total", "Codes entered correctly, by channel and flow.", {
      channel: codeChannels,
      flow: codeFlows,
    }),
    notifications: counter(
      registry,
      "auth_notifications_total",
      "Messages handed to the notifier, by channel, kind and outcome (sent, failed).",
      {
        channel: codeChannels,
        kind: notificationKinds,
        outcome: ["sent", "failed"],
      },
    ),
    serviceTokens: counter(registry, "auth_service_tokens_total", "IssueServiceToken calls by outcome.", { outcome: serviceTokenOutcomes }),
    outboxDeliveries: counter(
      registry,
      "auth_outbox_deliveries_total",
      "Outbox events handed on, by topic and outcome (delivered, failed).",
      {
        topic: outboxTopics,
        outcome: outboxOutcomes,
      },
    ),
  };
}
