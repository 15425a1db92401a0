// Goal: the report parser reads one result per line in the orders labs print
// them — name, value (with comparator, decimal comma or thousands separator),
// unit, printed range and printed flag — recognises catalog names with their
// LOINC code, accepts other names only with a known unit or a printed range, and
// leaves metadata (patient, dates, pages) alone.
import assert from "node:assert/strict";
import { parseLine, parseReport } from "../src/lab/parse-report.ts";

function parse(text: string, confidence?: number) {
  const row = parseLine(confidence === undefined ? { text } : { text, confidence });
  assert.ok(row, `"${text}" is read as a result`);
  return row;
}

describe("lab report parser", () => {
  it("reads name, value, unit, printed range and printed flag in that order", () => {
    const row = parse("Glucose 142 mg/dL 70-99 H");
    assert.equal(row.testName, "Glucose");
    assert.equal(row.test?.loinc, "2345-7");
    assert.equal(row.valueText, "142");
    assert.equal(row.value, 142);
    assert.equal(row.comparator, "");
    assert.equal(row.unit, "mg/dL");
    assert.equal(row.ucumUnit, "mg/dL");
    assert.deepEqual(row.printedRange, { low: 70, high: 99, text: "70-99" });
    assert.equal(row.printedFlag, "H");
    assert.equal(row.lineConfidence, 1);
  });

  it("reads a range in brackets before the unit, a colon after the name, and a flag before the unit", () => {
    const sodium = parse("Sodium: 140 (135-145) mmol/L");
    assert.equal(sodium.testName, "Sodium");
    assert.equal(sodium.test?.loinc, "2951-2");
    assert.equal(sodium.unit, "mmol/L");
    assert.deepEqual(sodium.printedRange, { low: 135, high: 145, text: "135-145" });
    const hemoglobin = parse("Hemoglobin 10.4 L g/dL 13.5 - 17.5");
    assert.equal(hemoglobin.value, 10.4);
    assert.equal(hemoglobin.printedFlag, "L");
    assert.equal(hemoglobin.unit, "g/dL", "the lone L is the flag, g/dL the unit");
    assert.deepEqual(hemoglobin.printedRange, { low: 13.5, high: 17.5, text: "13.5-17.5" });
  });

  it("takes the longest catalog name, and keeps a bracketed qualifier as part of the printed name", () => {
    assert.equal(parse("Glucose, fasting 5.4 mmol/L").test?.loinc, "1558-6");
    assert.equal(parse("Glucose 5.4 mmol/L").test?.loinc, "2345-7");
    const serum = parse("Glucose (serum): 101 mg/dL");
    assert.equal(serum.testName, "Glucose (serum)");
    assert.equal(serum.test?.loinc, "2345-7");
    assert.equal(parse("Vitamin D, 25-Hydroxy 18 ng/mL 30-100 L").test?.loinc, "62292-8");
    assert.equal(parse("LDL Cholesterol 3.1 mmol/L").test?.loinc, "2089-1");
  });

  it("reads a decimal comma as a decimal point and a thousands separator as nothing", () => {
    const potassium = parse("Potassium 5,4 mmol/L");
    assert.equal(potassium.value, 5.4);
    assert.equal(potassium.valueText, "5,4", "the printed text is kept");
    assert.equal(parse("Platelets 1,234 10^3/uL").value, 1234);
  });

  it("reads comparators on values and one-sided printed ranges", () => {
    const creatinine = parse("Creatinine <0.5 mg/dL");
    assert.equal(creatinine.comparator, "<");
    assert.equal(creatinine.value, 0.5);
    assert.equal(creatinine.valueText, "<0.5");
    assert.equal(parse("Creatinine ≥ 1.2 mg/dL").comparator, ">=");
    const egfr = parse("eGFR 55 mL/min/1.73m2 >60");
    assert.deepEqual(egfr.printedRange, { low: 60, text: ">60" });
    assert.equal(egfr.ucumUnit, "mL/min/{1.73_m2}");
    assert.deepEqual(parse("LDL Cholesterol 131 mg/dL <100 H").printedRange, { high: 100, text: "<100" });
  });

  it("maps the usual spellings of a unit to one UCUM code", () => {
    assert.equal(parse("WBC 7.2 x10^3/uL 4.5-11.0").ucumUnit, "10*3/uL");
    assert.equal(parse("WBC 7.2 K/uL").ucumUnit, "10*3/uL");
    assert.equal(parse("WBC 7.2 10*9/L").ucumUnit, "10*9/L");
    assert.equal(parse("TSH 2.1 uIU/mL 0.4-4.0").ucumUnit, "u[IU]/mL");
    assert.equal(parse("TSH 2.1 µIU/mL").ucumUnit, "u[IU]/mL");
    assert.equal(parse("Vitamin B12 410 pg/mL").ucumUnit, "pg/mL");
    assert.equal(parse("Iron 80 mcg/dL").ucumUnit, "ug/dL");
    // A unit the table does not know is kept as printed, without a UCUM code.
    const odd = parse("Glucose 101 mg%");
    assert.equal(odd.unit, "mg%");
    assert.equal(odd.ucumUnit, undefined);
  });

  it("reads qualitative results and ranges, including names that hold digits", () => {
    const hiv = parse("HIV 1/2 Antibody Non-reactive Non-reactive");
    assert.equal(hiv.testName, "HIV 1/2 Antibody");
    assert.equal(hiv.value, undefined);
    assert.equal(hiv.valueText, "Non-reactive");
    assert.deepEqual(hiv.printedRange, { qualitative: "non-reactive", text: "Non-reactive" });
    const hepatitis = parse("Hepatitis B surface antigen Positive Negative");
    assert.equal(hepatitis.valueText, "Positive");
    assert.equal(hepatitis.printedRange?.qualitative, "negative");
  });

  it("accepts a name outside the catalog only with a known unit or a printed range", () => {
    const ketones = parse("Ketones 5 mg/dL");
    assert.equal(ketones.test, undefined, "Ketones is not potassium (K)");
    assert.equal(ketones.testName, "Ketones");
    assert.equal(parse("Lipase 30 13-60").printedRange?.high, 60);
    assert.equal(parseLine({ text: "Widget 42" }), undefined);
    assert.equal(parseLine({ text: "Order 12345 units" }), undefined);
  });

  it("leaves metadata, headers and blank lines alone", () => {
    for (const text of [
      "Patient Name: John Smith 42",
      "Page 1 of 2",
      "Date of birth 1970-01-01",
      "Specimen ID 443",
      "Test Result Units Reference Range",
      "ZEPHYR PATHOLOGY - Laboratory Report",
      "",
      "   ",
    ]) {
      assert.equal(parseLine({ text }), undefined, text);
    }
  });

  it("keeps the OCR confidence of the line it read", () => {
    assert.equal(parse("Sodium 139 mmol/L 135-145", 0.71).lineConfidence, 0.71);
    assert.equal(parse("Sodium   139   mmol/L", 0.9).unit, "mmol/L", "runs of spaces from OCR are one");
  });

  it("reads a whole report: rows in order, collection and report dates, result-like lines counted", () => {
    const report = parseReport([
      { text: "ZEPHYR PATHOLOGY - Laboratory Report" },
      { text: "Collected: 2025-03-14 08:30" },
      { text: "Reported: 2025-03-15" },
      { text: "Test Result Units Reference Range" },
      { text: "Glucose, fasting 187 mg/dL 70 - 99" },
      { text: "Hemoglobin 10.4 g/dL 13.5 - 17.5" },
      { text: "Sodium 139 mmol/L 135 - 145" },
      { text: "Smudged line 4x7 unreadable" },
    ]);
    assert.deepEqual(
      report.rows.map((row) => row.test?.loinc),
      ["1558-6", "718-7", "2951-2"],
    );
    assert.equal(report.collectedAt?.toISOString(), "2025-03-14T08:30:00.000Z");
    assert.equal(report.reportedAt?.toISOString(), "2025-03-15T00:00:00.000Z");
    // Three results and the smudged line look like results; the dates are metadata.
    assert.equal(report.candidateLineCount, 4);
  });

  it("finds nothing in text without results", () => {
    const report = parseReport([{ text: "Dear patient, your appointment is confirmed." }]);
    assert.deepEqual(report.rows, []);
    assert.equal(report.collectedAt, undefined);
    assert.equal(report.candidateLineCount, 0);
  });
});
