// A payment rail moves money between a user's outside instrument and the
// platform (issue #5: Deposit and Withdraw through a payment-rail interface).
// Every call that moves money carries the payment id as idempotency key, so a
// retried call after a crash charges or pays out once.

/** What the rail is told about an instrument when it is added; the rail answers with a token. */
export type RailInstrument =
  | { type: "card"; number: string; securityCode: string; expiryMonth: number; expiryYear: number }
  | { type: "iban"; iban: string }
  | { type: "us_account"; routingNumber: string; accountNumber: string }
  | { type: "crypto"; network: "BITCOIN" | "ETHEREUM"; address: string };

export type RailSubmission = { outcome: "accepted"; reference: string } | { outcome: "declined"; message: string };

export type RailStatus = "pending" | "settled" | "failed";

export interface PaymentRail {
  /** Short name stored with each method, such as "sandbox". */
  readonly name: string;
  /** Exchanges an instrument for a token; the instrument's secrets stay with the rail. */
  tokenize(instrument: RailInstrument): Promise<{ token: string }>;
  /** Pulls money from the instrument (a deposit). */
  charge(request: { idempotencyKey: string; token: string; currency: string; amountMinor: bigint }): Promise<RailSubmission>;
  /** Pushes money to the instrument (a withdrawal). */
  payout(request: { idempotencyKey: string; token: string; currency: string; amountMinor: bigint }): Promise<RailSubmission>;
  /** Where an accepted charge or payout stands. */
  status(reference: string): Promise<RailStatus>;
}
