// Goal: the built-in catalog is sound — LOINC codes well formed (check digit)
// and unique, ranges ordered, every alias leading back to its own test — and its
// unit conversions are right: a glucose in mmol/L is judged against the mg/dL
// range converted with glucose's molar mass, both ways, and a unit with no known
// conversion is never judged against a built-in range.
import assert from "node:assert/strict";
import { LabFlag, ReferenceRangeSource } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { assessRows, resolveRange } from "../src/lab/assess.ts";
import { type CatalogTest, conversionFactor, labCatalog, matchTestName } from "../src/lab/catalog.ts";
import { parseLine } from "../src/lab/parse-report.ts";
import { normalizeUnitKey, toUcum } from "../src/lab/units.ts";

/** LOINC's mod-10 check digit (the Luhn scheme) of the code's number part. */
function loincCheckDigit(number: string): number {
  let sum = 0;
  [...number].reverse().forEach((character, index) => {
    const digit = Number(character);
    const weighted = index % 2 === 0 ? digit * 2 : digit;
    sum += weighted > 9 ? weighted - 9 : weighted;
  });
  return (10 - (sum % 10)) % 10;
}

function catalogTest(loinc: string): CatalogTest {
  const test = labCatalog.find((candidate) => candidate.loinc === loinc);
  assert.ok(test, loinc);
  return test;
}

function assessLine(text: string) {
  const row = parseLine({ text });
  assert.ok(row, text);
  const [finding] = assessRows([row]);
  assert.ok(finding);
  return finding;
}

describe("lab catalog", () => {
  it("has well-formed, unique LOINC codes with correct check digits", () => {
    assert.ok(labCatalog.length >= 30);
    const seen = new Set<string>();
    for (const test of labCatalog) {
      const match = /^(\d{1,7})-(\d)$/.exec(test.loinc);
      assert.ok(match?.[1] && match[2], `${test.loinc} is NNNNN-N`);
      assert.equal(loincCheckDigit(match[1]), Number(match[2]), `${test.loinc} check digit`);
      assert.ok(!seen.has(test.loinc), `${test.loinc} appears once`);
      seen.add(test.loinc);
      assert.ok(test.display.length > 0);
    }
    // The check itself: a wrong digit is caught.
    assert.notEqual(loincCheckDigit("2345"), 8);
  });

  it("orders every range: critical low < low < high < critical high, in the canonical unit", () => {
    for (const test of labCatalog) {
      const limits = [test.criticalLow, test.low, test.high, test.criticalHigh].filter((limit) => limit !== undefined);
      assert.ok(limits.length > 0, `${test.loinc} has a limit`);
      for (let index = 1; index < limits.length; index++) {
        assert.ok((limits[index - 1] ?? 0) < (limits[index] ?? 0), `${test.loinc} limits ascend: ${limits.join(" < ")}`);
      }
      for (const [unit, factor] of Object.entries(test.conversions ?? {})) {
        assert.notEqual(unit, test.unit, `${test.loinc} does not convert its unit to itself`);
        assert.ok(Number.isFinite(factor) && factor > 0, `${test.loinc} ${unit} factor`);
      }
    }
  });

  it("leads every alias back to its own test, and refuses short aliases inside longer words", () => {
    for (const test of labCatalog) {
      for (const alias of test.aliases) {
        const found = matchTestName(`${alias.toUpperCase()} 1 ${test.unit}`);
        assert.equal(found?.test.loinc, test.loinc, `"${alias}" leads to ${test.loinc}`);
        assert.equal(found?.nameLength, alias.length);
      }
    }
    assert.equal(matchTestName("Ketones 5"), undefined);
    assert.equal(matchTestName("Naproxen 5"), undefined);
    assert.equal(matchTestName("K: 4.1")?.test.loinc, "2823-3");
    assert.equal(matchTestName("Na(serum) 140")?.test.loinc, "2951-2");
  });

  it("converts glucose between mg/dL and mmol/L with its molar mass (180.16 g/mol)", () => {
    const glucose = catalogTest("2345-7");
    const factor = conversionFactor(glucose, "mmol/L");
    assert.ok(factor !== undefined);
    // 5.5 mmol/L × 18.016 = 99.088 mg/dL; 126 mg/dL ÷ 18.016 = 6.994 mmol/L.
    assert.ok(Math.abs(5.5 * factor - 99.088) < 0.001);
    assert.ok(Math.abs(126 / factor - 6.994) < 0.001);
    assert.equal(conversionFactor(glucose, "mg/dL"), 1);
    assert.equal(conversionFactor(glucose, "g/L"), undefined, "no conversion is guessed");
    assert.equal(conversionFactor(glucose, undefined), undefined);
  });

  it("converts other units with the right factors", () => {
    const cases: [loinc: string, unit: string, canonicalPerUnit: number][] = [
      ["2160-0", "umol/L", 1 / 88.42], // creatinine: 88.42 µmol/L per mg/dL
      ["2093-3", "mmol/L", 38.67], // cholesterol
      ["2571-8", "mmol/L", 88.57], // triglycerides
      ["718-7", "g/L", 0.1], // hemoglobin
      ["3016-3", "m[IU]/mL", 1000], // TSH
      ["1988-5", "mg/dL", 10], // CRP to mg/L
      ["62292-8", "nmol/L", 1 / 2.496], // vitamin D
    ];
    for (const [loinc, unit, expected] of cases) {
      const factor = conversionFactor(catalogTest(loinc), unit);
      assert.ok(factor !== undefined && Math.abs(factor - expected) / expected < 1e-9, `${loinc} ${unit}`);
    }
  });

  it("judges a glucose in mmol/L against the built-in range converted into mmol/L", () => {
    const normal = assessLine("Glucose, fasting 5.4 mmol/L");
    assert.equal(normal.range?.source, ReferenceRangeSource.BUILT_IN);
    assert.equal(normal.range?.unit, "mmol/L");
    // 70 and 99 mg/dL, 40 and 450 mg/dL critical, in mmol/L to four significant digits.
    assert.equal(normal.range?.low, 3.885);
    assert.equal(normal.range?.high, 5.495);
    assert.equal(normal.range?.criticalLow, 2.22);
    assert.equal(normal.range?.criticalHigh, 24.98);
    assert.equal(normal.flag, LabFlag.NORMAL);
    assert.equal(assessLine("Glucose, fasting 7.0 mmol/L").flag, LabFlag.HIGH);
    assert.equal(assessLine("Glucose, fasting 2.0 mmol/L").flag, LabFlag.CRITICAL_LOW);
    // The same values in mg/dL are judged alike.
    assert.equal(assessLine("Glucose, fasting 97 mg/dL").flag, LabFlag.NORMAL);
    assert.equal(assessLine("Glucose, fasting 126 mg/dL").flag, LabFlag.HIGH);
    assert.equal(assessLine("Glucose, fasting 36 mg/dL").flag, LabFlag.CRITICAL_LOW);
  });

  it("never judges a value against a built-in range when its unit is missing or has no conversion", () => {
    // 5.4 is a normal glucose in mmol/L and a dangerously low one in mg/dL.
    for (const text of ["Glucose 5.4", "Glucose 5.4 g/L", "Glucose 101 mg%"]) {
      const finding = assessLine(text);
      assert.equal(finding.range, undefined, text);
      assert.equal(finding.flag, LabFlag.NO_REFERENCE_RANGE, text);
    }
  });

  it("prefers the printed range, and takes critical limits from the catalog in the value's unit", () => {
    const row = parseLine({ text: "Hemoglobin 125 g/L 135-175" });
    assert.ok(row);
    const range = resolveRange(row);
    assert.equal(range?.source, ReferenceRangeSource.REPORT);
    assert.equal(range?.low, 135);
    assert.equal(range?.high, 175);
    assert.equal(range?.criticalLow, 70, "7 g/dL is 70 g/L");
    assert.equal(range?.criticalHigh, 200);
    assert.equal(assessRows([row])[0]?.flag, LabFlag.LOW, "12.5 g/dL is normal by the built-in range, low by the printed one");
  });

  it("reduces printed units to UCUM codes", () => {
    assert.equal(normalizeUnitKey(" x10^3 / µL "), "10^3/ul");
    assert.equal(normalizeUnitKey("×10*9/L"), "10^9/l");
    assert.equal(toUcum("MG/DL"), "mg/dL");
    assert.equal(toUcum("mEq/L"), "meq/L");
    assert.equal(toUcum("IU/L"), "U/L");
    assert.equal(toUcum("mL/min/1.73m²"), "mL/min/{1.73_m2}");
    assert.equal(toUcum(""), undefined);
    assert.equal(toUcum("furlongs"), undefined);
  });
});
