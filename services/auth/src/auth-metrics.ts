// auth's business counters, on the runtime's registry so /metrics serves them
// beside the RPC metrics.
import type { RpcMetrics } from "@trustmesh/runtime";
import { Counter } from "prom-client";

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
}

export function createAuthMetrics(registry: RpcMetrics["registry"]): AuthMetrics {
  const registers = [registry];
  return {
    logins: new Counter({
      name: "auth_logins_total",
      help: "Password logins by outcome: success, mfa_required, wrong_credentials, locked, unverified, rate_limited.",
      labelNames: ["outcome"],
      registers,
    }),
    mfa: new Counter({
      name: "auth_mfa_total",
      help: "Answers to MFA challenges by method and outcome.",
      labelNames: ["method", "outcome"],
      registers,
    }),
    refreshes: new Counter({
      name: "auth_token_refreshes_total",
      help: "Refresh-token exchanges by outcome: rotated, reused, invalid.",
      labelNames: ["outcome"],
      registers,
    }),
    reuseDetections: new Counter({
      name: "auth_refresh_token_reuse_total",
      help: "Refresh tokens presented again after rotation; each revoked its session.",
      registers,
    }),
    lockouts: new Counter({
      name: "auth_lockouts_total",
      help: "Accounts (or unknown identifiers) locked after repeated failures.",
      registers,
    }),
    codesSent: new Counter({
      name: "auth_verification_codes_sent_total",
      help: "Codes sent, by channel (email, sms) and flow (contact, password_reset).",
      labelNames: ["channel", "flow"],
      registers,
    }),
    codesConfirmed: new Counter({
      name: "auth_verification_codes_confirmed_total",
      help: "Codes entered correctly, by channel and flow.",
      labelNames: ["channel", "flow"],
      registers,
    }),
    notifications: new Counter({
      name: "auth_notifications_total",
      help: "Messages handed to the notifier, by channel, kind and outcome (sent, failed).",
      labelNames: ["channel", "kind", "outcome"],
      registers,
    }),
    serviceTokens: new Counter({
      name: "auth_service_tokens_total",
      help: "IssueServiceToken calls by outcome.",
      labelNames: ["outcome"],
      registers,
    }),
  };
}
