// Goal: payments' pure rules, called directly: fees round up and respect
// minimum and maximum; limit windows are UTC days and months; the state
// machine allows exactly the documented transitions; instrument checks accept
// real IBANs, routing numbers, card numbers and addresses and refuse each kind
// of mistake naming the field; the sandbox rail answers by its test numbers.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { DomainError } from "@trustmesh/runtime";
import { computeFee, defaultFeeSchedule, feeFor, parseFeeSchedule } from "../src/domain/fees.ts";
import { parseLimitSchedule, periodsOf, resetsAt, tierOf } from "../src/domain/limits.ts";
import { amountOf } from "../src/domain/money.ts";
import {
  checkBitcoinAddress,
  checkCardExpiry,
  checkCardNumber,
  checkEthereumAddress,
  checkIban,
  isValidRoutingNumber,
} from "../src/domain/payment-methods.ts";
import { canTransition, paymentStates } from "../src/domain/state-machine.ts";
import { createSandboxRail, sandboxTestInstruments } from "../src/rails/sandbox-rail.ts";

function refusedNaming(field: string, reason?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof DomainError, String(error));
    assert.equal(error.code, Code.InvalidArgument);
    assert.ok(
      error.violations.some((violation) => violation.field === field),
      `violations name ${field}: ${error.message}`,
    );
    if (reason) assert.equal(error.reason, reason);
    return true;
  };
}

describe("fees", () => {
  it("is rate plus fixed, rounded up to a whole minor unit, raised to the minimum and capped at the maximum", () => {
    const line = { rateBasisPoints: 150, fixedMinor: 50n, minimumMinor: 100n, maximumMinor: 5_000n };
    assert.equal(computeFee(line, 10_000n), 200n); // 1.5% of 10000 = 150, + 50
    assert.equal(computeFee(line, 10_001n), 201n); // 150.015 rounds up to 151
    assert.equal(computeFee(line, 1n), 100n); // the minimum
    assert.equal(computeFee(line, 10n ** 9n), 5_000n); // the cap
    assert.equal(computeFee({ rateBasisPoints: 0, fixedMinor: 0n, minimumMinor: 0n }, 5n), 0n);
    assert.throws(() => computeFee(line, 0n), RangeError);
  });

  it("computes exactly on ETH amounts beyond 2^64", () => {
    const fee = feeFor(defaultFeeSchedule, "express", "ETH", 10n ** 21n);
    assert.equal(fee.feeMinor, 10n ** 16n); // capped at 0.01 ETH
  });

  it("takes overrides from JSON and keeps the other lines", () => {
    const schedule = parseFeeSchedule(
      '{"express":{"USD":{"rateBasisPoints":90,"fixedMinor":"30","minimumMinor":"50","maximumMinor":"2000"}}}',
    );
    assert.equal(schedule.express.USD.rateBasisPoints, 90);
    assert.deepEqual(schedule.express.EUR, defaultFeeSchedule.express.EUR);
    assert.throws(() => parseFeeSchedule('{"express":{"USD":{"rateBasisPoints":90,"fixedMinor":"1.5","minimumMinor":"0"}}}'));
    assert.throws(
      () => parseFeeSchedule('{"express":{"USD":{"rateBasisPoints":1,"fixedMinor":"0","minimumMinor":"10","maximumMinor":"5"}}}'),
      /maximumMinor/,
    );
  });
});

describe("limits", () => {
  it("counts in UTC calendar days and months, which reset at the next one", () => {
    const { dayStart, monthStart } = periodsOf(new Date("2026-01-31T23:59:59.999Z"));
    assert.equal(dayStart.toISOString(), "2026-01-31T00:00:00.000Z");
    assert.equal(monthStart.toISOString(), "2026-01-01T00:00:00.000Z");
    assert.equal(resetsAt("daily", dayStart).toISOString(), "2026-02-01T00:00:00.000Z");
    assert.equal(resetsAt("monthly", new Date("2026-12-01T00:00:00Z")).toISOString(), "2027-01-01T00:00:00.000Z");
  });

  it("puts a user in the verified tier only with the verified role, and reads overrides", () => {
    assert.equal(tierOf([]), "standard");
    assert.equal(tierOf(["verified"]), "verified");
    const schedule = parseLimitSchedule('{"standard":{"USD":{"perTransactionMinor":"10","dailyMinor":"20","monthlyMinor":"30"}}}');
    assert.equal(schedule.standard.USD.dailyMinor, 20n);
    assert.throws(() => parseLimitSchedule('{"standard":{"USD":{"perTransactionMinor":"0","dailyMinor":"20","monthlyMinor":"30"}}}'));
  });
});

describe("money", () => {
  it("parses minor units exactly and refuses what is not an amount", () => {
    assert.equal(
      amountOf({ $typeName: "trustmesh.type.v1.Money", currency: "ETH", amountMinor: "123456789012345678901234567890" }, "amount")
        .amountMinor,
      123456789012345678901234567890n,
    );
    assert.throws(
      () => amountOf({ $typeName: "trustmesh.type.v1.Money", currency: "DOGE", amountMinor: "1" }, "amount"),
      refusedNaming("amount.currency"),
    );
    assert.throws(
      () => amountOf({ $typeName: "trustmesh.type.v1.Money", currency: "USD", amountMinor: "-1" }, "amount"),
      refusedNaming("amount.amount_minor"),
    );
    assert.throws(() => amountOf(undefined, "amount"), refusedNaming("amount"));
  });
});

describe("state machine", () => {
  it("allows exactly the documented transitions", () => {
    const allowed = new Set([
      "CREATED>PROCESSING",
      "CREATED>FAILED",
      "PROCESSING>COMPLETED",
      "PROCESSING>FAILED",
      "PROCESSING>AWAITING_CLAIM",
      "AWAITING_CLAIM>COMPLETED",
      "AWAITING_CLAIM>EXPIRED",
      "COMPLETED>PARTIALLY_REFUNDED",
      "COMPLETED>REFUNDED",
      "PARTIALLY_REFUNDED>PARTIALLY_REFUNDED",
      "PARTIALLY_REFUNDED>REFUNDED",
    ]);
    for (const from of paymentStates)
      for (const to of paymentStates) assert.equal(canTransition(from, to), allowed.has(`${from}>${to}`), `${from} → ${to}`);
  });
});

describe("payment method checks", () => {
  it("accepts valid IBANs and refuses a wrong check digit or length", () => {
    assert.deepEqual(checkIban("DE89370400440532013000", "f"), { iban: "DE89370400440532013000", country: "DE", last4: "3000" });
    assert.equal(checkIban("GB29NWBK60161331926819", "f").country, "GB");
    assert.throws(
      () => checkIban("DE89370400440532013001", "bank_account.iban.iban"),
      refusedNaming("bank_account.iban.iban", "IBAN_INVALID"),
    );
    assert.throws(() => checkIban("DE8937040044053201300", "f"), refusedNaming("f"));
    for (const iban of ["DE35370400440532013002", "DE62370400440532013001"])
      assert.equal(checkIban(iban, "f").iban, iban, "sandbox IBANs are valid");
  });

  it("checks ABA routing numbers' 3-7-1 checksum", () => {
    for (const valid of ["011000015", "021000021", "121000358", "110000000"]) assert.equal(isValidRoutingNumber(valid), true, valid);
    for (const invalid of ["021000022", "12345678", "000000000", "abcdefghi"]) assert.equal(isValidRoutingNumber(invalid), false, invalid);
  });

  it("checks cards' Luhn digit and brand, and expiry through the end of the month", () => {
    assert.deepEqual(checkCardNumber("4242424242424242", "card.number"), { brand: "VISA", last4: "4242" });
    assert.equal(checkCardNumber("378282246310005", "card.number").brand, "AMERICAN_EXPRESS");
    assert.equal(checkCardNumber("5555555555554444", "card.number").brand, "MASTERCARD");
    assert.throws(() => checkCardNumber("4242424242424241", "card.number"), refusedNaming("card.number", "CARD_NUMBER_INVALID"));
    for (const number of Object.keys(sandboxTestInstruments).filter((key) => /^\d{15,16}$/.test(key)))
      checkCardNumber(number, "card.number");
    const now = new Date("2026-05-31T12:00:00Z");
    checkCardExpiry(5, 2026, now, "card.expiry_year");
    assert.throws(() => checkCardExpiry(4, 2026, now, "card.expiry_year"), refusedNaming("card.expiry_year", "CARD_EXPIRED"));
  });

  it("checks Bitcoin bech32, bech32m and base58check mainnet addresses", () => {
    assert.equal(checkBitcoinAddress("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "a"), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
    assert.equal(checkBitcoinAddress("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", "a"), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
    assert.equal(checkBitcoinAddress("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297", "a").startsWith("bc1p"), true);
    assert.equal(checkBitcoinAddress("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "a"), "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
    assert.equal(checkBitcoinAddress("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a"), "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy");
    assert.throws(
      () => checkBitcoinAddress("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr", "crypto_wallet.address"),
      refusedNaming("crypto_wallet.address", "ADDRESS_INVALID"),
    );
    assert.throws(() => checkBitcoinAddress("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "a"), refusedNaming("a"));
    assert.throws(
      () => checkBitcoinAddress("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "a"),
      refusedNaming("a", "ADDRESS_WRONG_NETWORK"),
    );
  });

  it("requires Ethereum addresses to carry a correct EIP-55 checksum", () => {
    assert.equal(checkEthereumAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "a"), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    checkEthereumAddress("0x000000000000000000000000000000000000dEaD", "a");
    assert.throws(
      () => checkEthereumAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "a"),
      refusedNaming("a", "ADDRESS_CHECKSUM_MISSING"),
    );
    assert.throws(
      () => checkEthereumAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "a"),
      refusedNaming("a", "ADDRESS_CHECKSUM_INVALID"),
    );
    assert.throws(() => checkEthereumAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "a"), refusedNaming("a", "ADDRESS_INVALID"));
  });
});

describe("sandbox rail", () => {
  it("succeeds, declines or fails late by test instrument, and keeps no card data in its token", async () => {
    const rail = createSandboxRail({ failLateAfterMs: 50 });
    const submit = async (number: string) => {
      const { token } = await rail.tokenize({ type: "card", number, securityCode: "123", expiryMonth: 12, expiryYear: 2099 });
      assert.ok(!token.includes(number.slice(-4)) || !token.includes(number), "the token does not carry the number");
      return rail.charge({ idempotencyKey: `k-${number}`, token, currency: "USD", amountMinor: 100n });
    };
    const ok = await submit("4242424242424242");
    assert.equal(ok.outcome, "accepted");
    if (ok.outcome === "accepted") assert.equal(await rail.status(ok.reference), "settled");
    assert.equal((await submit("4000000000000002")).outcome, "declined");
    const late = await submit("4000000000000341");
    assert.equal(late.outcome, "accepted");
    if (late.outcome === "accepted") {
      assert.equal(await rail.status(late.reference), "pending");
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(await rail.status(late.reference), "failed");
    }
    assert.equal((await rail.charge({ idempotencyKey: "x", token: "forged", currency: "USD", amountMinor: 1n })).outcome, "declined");
  });
});
