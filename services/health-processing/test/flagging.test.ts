// Goal: flags are set at the right edges — reference limits are inclusive (a
// value on the limit is normal), critical limits exclusive (a value on the
// critical limit is only low or high) — censored values ("<0.1", ">450") are
// judged by what they say, qualitative results by their expected word, and
// printed flags count only where no range can judge; confidence falls with what
// was not recognised.
import assert from "node:assert/strict";
import { LabFlag, ReferenceRangeSource } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import {
  type AssessedRange,
  findingConfidence,
  flagValue,
  isCritical,
  isFlagged,
  type LabFinding,
  reportConfidence,
} from "../src/lab/assess.ts";
import { labCatalog } from "../src/lab/catalog.ts";
import type { ParsedRow } from "../src/lab/parse-report.ts";
import { toUcum } from "../src/lab/units.ts";

const glucose = labCatalog.find((test) => test.loinc === "2345-7");

/** A parsed glucose row; its UCUM unit follows from the printed unit, as the parser's does. */
function row(valueText: string, overrides: Partial<Omit<ParsedRow, "ucumUnit">> = {}): ParsedRow {
  const match = /^(<=|>=|<|>)?(.*)$/.exec(valueText);
  const numberText = match?.[2] ?? valueText;
  const numeric = /^[-+]?\d/.test(numberText);
  const unit = overrides.unit ?? "mg/dL";
  const ucumUnit = toUcum(unit);
  return {
    testName: "Glucose",
    ...(glucose ? { test: glucose } : {}),
    valueText,
    ...(numeric ? { value: Number(numberText) } : {}),
    comparator: (match?.[1] ?? "") as ParsedRow["comparator"],
    printedFlag: "",
    lineConfidence: 1,
    ...overrides,
    unit,
    ...(ucumUnit === undefined ? {} : { ucumUnit }),
  };
}

/** Glucose's limits as the catalog gives them: 70-140, critical below 40 and above 450. */
const range: AssessedRange = {
  low: 70,
  high: 140,
  criticalLow: 40,
  criticalHigh: 450,
  unit: "mg/dL",
  text: "",
  source: ReferenceRangeSource.BUILT_IN,
};

/** The flag's name; `against` is the range, "none" for none. */
function flagOf(valueText: string, against: AssessedRange | "none" = range, overrides: Partial<Omit<ParsedRow, "ucumUnit">> = {}): string {
  return LabFlag[flagValue(row(valueText, overrides), against === "none" ? undefined : against)] ?? "?";
}

describe("flagging", () => {
  it("treats reference limits as inclusive: on the limit is normal, just past it is low or high", () => {
    assert.equal(flagOf("69.9"), "LOW");
    assert.equal(flagOf("70"), "NORMAL");
    assert.equal(flagOf("100"), "NORMAL");
    assert.equal(flagOf("140"), "NORMAL");
    assert.equal(flagOf("140.1"), "HIGH");
  });

  it("treats critical limits as exclusive: on the limit is low or high, past it critical", () => {
    assert.equal(flagOf("40"), "LOW");
    assert.equal(flagOf("39.9"), "CRITICAL_LOW");
    assert.equal(flagOf("0"), "CRITICAL_LOW");
    assert.equal(flagOf("450"), "HIGH");
    assert.equal(flagOf("450.1"), "CRITICAL_HIGH");
  });

  it("judges censored values by what they say", () => {
    // "<70" lies below 70, so it is low although 70 itself is normal.
    assert.equal(flagOf("<70"), "LOW");
    assert.equal(flagOf("<=70"), "NORMAL");
    assert.equal(flagOf("<100"), "NORMAL");
    assert.equal(flagOf(">140"), "HIGH");
    // Beyond a critical limit the same way.
    assert.equal(flagOf("<40"), "CRITICAL_LOW");
    assert.equal(flagOf(">450"), "CRITICAL_HIGH");
    // A value censored away from a critical limit is not called critical.
    assert.equal(flagOf(">30"), "LOW");
    assert.equal(flagOf("<500"), "HIGH");
  });

  it("uses one-sided ranges on their one side only", () => {
    const highOnly: AssessedRange = { high: 200, unit: "mg/dL", text: "<200", source: ReferenceRangeSource.REPORT };
    assert.equal(flagOf("5", highOnly), "NORMAL");
    assert.equal(flagOf("200", highOnly), "NORMAL");
    assert.equal(flagOf("201", highOnly), "HIGH");
    const lowOnly: AssessedRange = { low: 60, unit: "mL/min/{1.73_m2}", text: ">60", source: ReferenceRangeSource.REPORT };
    assert.equal(flagOf("59", lowOnly), "LOW");
    assert.equal(flagOf("900", lowOnly), "NORMAL");
  });

  it("lets a range decide over a printed flag, and uses the printed flag only without one", () => {
    assert.equal(flagOf("100", range, { printedFlag: "H" }), "NORMAL");
    assert.equal(flagOf("100", "none", { printedFlag: "H" }), "HIGH");
    assert.equal(flagOf("100", "none", { printedFlag: "LL" }), "CRITICAL_LOW");
    assert.equal(flagOf("100", "none", { printedFlag: "A" }), "ABNORMAL");
    assert.equal(flagOf("100", "none"), "NO_REFERENCE_RANGE");
  });

  it("judges qualitative results against the expected word, or by the usual words", () => {
    const negative: AssessedRange = { qualitative: "negative", unit: "", text: "Negative", source: ReferenceRangeSource.REPORT };
    const nonReactive: AssessedRange = { qualitative: "non-reactive", unit: "", text: "Non-reactive", source: ReferenceRangeSource.REPORT };
    const qualitative = { unit: "" };
    assert.equal(flagOf("Negative", negative, qualitative), "NORMAL");
    assert.equal(flagOf("Positive", negative, qualitative), "ABNORMAL");
    assert.equal(flagOf("Non reactive", nonReactive, qualitative), "NORMAL");
    assert.equal(flagOf("Reactive", nonReactive, qualitative), "ABNORMAL");
    assert.equal(flagOf("Not detected", "none", qualitative), "NORMAL");
    assert.equal(flagOf("Detected", "none", qualitative), "ABNORMAL");
    assert.equal(flagOf("Trace", "none", qualitative), "NO_REFERENCE_RANGE");
  });

  it("calls low, high, critical and abnormal flagged; normal and unjudged not", () => {
    for (const flag of [LabFlag.LOW, LabFlag.HIGH, LabFlag.CRITICAL_LOW, LabFlag.CRITICAL_HIGH, LabFlag.ABNORMAL]) {
      assert.ok(isFlagged(flag), LabFlag[flag]);
    }
    assert.ok(!isFlagged(LabFlag.NORMAL));
    assert.ok(!isFlagged(LabFlag.NO_REFERENCE_RANGE));
    assert.ok(isCritical(LabFlag.CRITICAL_HIGH) && isCritical(LabFlag.CRITICAL_LOW));
    assert.ok(!isCritical(LabFlag.HIGH));
  });
});

describe("confidence", () => {
  it("is full for a recognised test with a UCUM unit and a range read from a text layer", () => {
    assert.equal(findingConfidence(row("100"), range), 1);
  });

  it("falls for an unrecognised name, an unknown unit, a missing range, and an unclear OCR line", () => {
    const { test: _test, ...unknownTest } = row("100");
    const unknownUnit = row("100", { unit: "mg%" });
    assert.equal(findingConfidence(unknownTest, range), 0.8);
    assert.equal(findingConfidence(unknownUnit, range), 0.7);
    assert.equal(findingConfidence(row("100"), undefined), 0.85);
    assert.equal(findingConfidence(row("100", { lineConfidence: 0.62 }), range), 0.62);
    // Together they multiply.
    const { test: _again, ...unknownTestAndUnit } = unknownUnit;
    assert.equal(findingConfidence({ ...unknownTestAndUnit, lineConfidence: 0.9 }, undefined), 0.428);
    // A qualitative value has no unit to miss.
    assert.equal(findingConfidence(row("Negative", { unit: "" }), range), 1);
  });

  it("scores a report by the mean of its findings, scaled by the share of result-like lines recognised", () => {
    const finding = (confidence: number): LabFinding => ({ row: row("100"), flag: LabFlag.NORMAL, confidence });
    assert.equal(reportConfidence([finding(1), finding(0.8)], 2), 0.9);
    // Half the result-like lines unread: mean × (0.5 + 0.5 × 0.5).
    assert.equal(reportConfidence([finding(1), finding(0.8)], 4), 0.675);
    assert.equal(reportConfidence([finding(1)], 0), 1, "more findings than counted lines is full coverage");
    assert.equal(reportConfidence([], 5), 0);
  });
});
