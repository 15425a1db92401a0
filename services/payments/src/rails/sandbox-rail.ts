// The sandbox rail: a rail that moves no real money and answers by test
// numbers, like Stripe's test cards (README: Sandbox rail). The behaviour of
// an instrument is decided when it is tokenised and carried in its token, and
// an accepted submission's reference carries the moment it was accepted, so
// the rail holds no state: retries, restarts and several replicas all get the
// same answers.
import { createHash } from "node:crypto";
import type { PaymentRail, RailInstrument, RailStatus } from "./payment-rail.ts";

export type SandboxBehaviour = "succeed" | "decline" | "fail_late";

/** Documented test instruments; every other valid instrument succeeds. */
export const sandboxTestInstruments: Readonly<Record<string, SandboxBehaviour>> = {
  // Cards.
  "4242424242424242": "succeed",
  "5555555555554444": "succeed",
  "4000000000000002": "decline",
  "4000000000009995": "decline",
  "4000000000000341": "fail_late",
  // US bank accounts (account numbers).
  "000123456789": "succeed",
  "000222222227": "decline",
  "000111111116": "fail_late",
  // IBANs.
  DE89370400440532013000: "succeed",
  DE35370400440532013002: "decline",
  DE62370400440532013001: "fail_late",
  // Crypto addresses.
  "0x000000000000000000000000000000000000dEaD": "decline",
  "1BoatSLRHtKNngkdXEeobR76b53LETtpyT": "fail_late",
};

function behaviourOf(instrument: RailInstrument): SandboxBehaviour {
  const key =
    instrument.type === "card"
      ? instrument.number
      : instrument.type === "iban"
        ? instrument.iban
        : instrument.type === "us_account"
          ? instrument.accountNumber
          : instrument.address;
  return sandboxTestInstruments[key] ?? "succeed";
}

export interface SandboxRailOptions {
  /** How long a fail_late submission stays pending before it fails. */
  failLateAfterMs: number;
}

const tokenPattern = /^sbx_tok_(succeed|decline|fail_late)_[0-9a-f]{24}$/;
const referencePattern = /^sbx_ref_(succeed|fail_late)_(\d{13})_[0-9a-f]{16}$/;

export function createSandboxRail(options: SandboxRailOptions): PaymentRail {
  const submit = (request: { idempotencyKey: string; token: string }) => {
    const match = tokenPattern.exec(request.token);
    if (!match) return Promise.resolve({ outcome: "declined" as const, message: "the sandbox rail does not know this token" });
    const behaviour = match[1] as SandboxBehaviour;
    if (behaviour === "decline")
      return Promise.resolve({ outcome: "declined" as const, message: "the sandbox declined this test instrument" });
    // A retried submission is accepted again with the same behaviour; the reference
    // carries the acceptance time, from which status() derives a late failure.
    const digest = createHash("sha256").update(request.idempotencyKey).digest("hex").slice(0, 16);
    return Promise.resolve({
      outcome: "accepted" as const,
      reference: `sbx_ref_${behaviour}_${String(Date.now()).padStart(13, "0")}_${digest}`,
    });
  };
  return {
    name: "sandbox",
    tokenize(instrument) {
      // The token names the behaviour and a digest that does not reveal the instrument.
      const digest = createHash("sha256").update(crypto.randomUUID()).digest("hex").slice(0, 24);
      return Promise.resolve({ token: `sbx_tok_${behaviourOf(instrument)}_${digest}` });
    },
    charge: submit,
    payout: submit,
    status(reference): Promise<RailStatus> {
      const match = referencePattern.exec(reference);
      if (!match) return Promise.resolve("failed");
      if (match[1] === "succeed") return Promise.resolve("settled");
      const acceptedAtMs = Number(match[2]);
      return Promise.resolve(Date.now() - acceptedAtMs >= options.failLateAfterMs ? "failed" : "pending");
    },
  };
}
