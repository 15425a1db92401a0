// Goal: the fast spelling of a transfer's request document is byte for byte the
// generic canonical JSON of its definition (stored request hashes must not
// change meaning), for plain and awkward requests alike; and the remembered
// ISO time never answers for a Date that has changed.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { NewTransactionSchema } from "@trustmesh/api/trustmesh/ledger/v1/ledger_pb.js";
import { canonicalJson, jsonString } from "../src/domain/canonical-json.ts";
import { isoTime } from "../src/domain/iso-time.ts";
import { transferOperation, transferRequestDocument, transferRequestJson } from "../src/service/requests.ts";

const caller = { scope: "service:payments", createdBy: "payments" };
const debit = "00000000-0000-4000-8000-000000000001";
const credit = "00000000-0000-4000-8000-000000000002";

describe("transfer request hash", () => {
  const plain = create(NewTransactionSchema, {
    idempotencyKey: "payment:1:reserve",
    postings: [{ debitAccountId: debit, creditAccountId: credit, amount: { currency: "USD", amountMinor: "1" } }],
  });
  const awkward = create(NewTransactionSchema, {
    idempotencyKey: "k",
    postings: [
      { debitAccountId: debit, creditAccountId: credit, amount: { currency: "ETH", amountMinor: "20000000000000000123" } },
      { debitAccountId: credit, creditAccountId: debit, amount: { currency: "BTC", amountMinor: "7" } },
    ],
    pending: true,
    pendingTimeout: { seconds: 90n, nanos: 5 },
    reference: 'quote " backslash \\ line\nend ∑',
    metadata: { z: "\u0001", é: "ü", a: "" },
  });

  it("spells the document exactly as canonicalJson does", () => {
    for (const transaction of [plain, awkward]) {
      const { postings } = transferOperation(transaction, caller, "transaction");
      assert.equal(transferRequestJson(transaction, postings), canonicalJson(transferRequestDocument(transaction, postings)));
    }
  });

  it("gives different requests different hashes and equal requests equal ones", () => {
    const first = transferOperation(plain, caller, "transaction").requestHash;
    assert.deepEqual(transferOperation(create(NewTransactionSchema, plain), caller, "transaction").requestHash, first);
    const changed = create(NewTransactionSchema, { ...plain, reference: "other" });
    assert.notDeepEqual(transferOperation(changed, caller, "transaction").requestHash, first);
  });
});

describe("jsonString", () => {
  it("spells every string exactly as JSON.stringify does", () => {
    const strings = [
      "",
      "payment:1:reserve",
      "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
      'quote " and backslash \\',
      "controls \u0000 \u0008 \t \n \u001f, not \u007f or \u2028",
      "lone high \ud800, lone low \udfff, a pair \ud83d\ude00",
      "∑ é ü",
    ];
    for (const text of strings) assert.equal(jsonString(text), JSON.stringify(text), text);
  });
});

describe("isoTime", () => {
  it("follows a Date that changed after it was spelled", () => {
    const time = new Date(Date.UTC(2026, 0, 1));
    assert.equal(isoTime(time), "2026-01-01T00:00:00.000Z");
    time.setTime(Date.UTC(2027, 1, 2));
    assert.equal(isoTime(time), "2027-02-02T00:00:00.000Z");
    assert.equal(isoTime(new Date(Date.UTC(2028, 2, 3))), "2028-03-03T00:00:00.000Z");
  });
});
