// Goal: the rules interpreter explains each value in plain language by its flag,
// and every flagged value carries "consult your healthcare provider" — critical
// ones also "seek prompt medical attention" — while a normal report carries no
// such warning; whatever another engine writes, the required warnings are added.
import assert from "node:assert/strict";
import { ensureSafetyWarnings, type InterpretationInput, requiredSafetyWarnings } from "../src/interpretation/interpreter.ts";
import { createRulesInterpreter } from "../src/interpretation/rules-interpreter.ts";
import { assessRows, type LabFinding } from "../src/lab/assess.ts";
import { parseLine } from "../src/lab/parse-report.ts";

function findings(...lines: string[]): LabFinding[] {
  return assessRows(
    lines.map((text) => {
      const row = parseLine({ text });
      assert.ok(row, text);
      return row;
    }),
  );
}

function input(found: LabFinding[], lowConfidence = false): InterpretationInput {
  return { findings: found, confidence: lowConfidence ? 0.4 : 0.95, lowConfidence };
}

const interpret = (value: InterpretationInput) => createRulesInterpreter().interpret(value, new AbortController().signal);

describe("rules interpreter", () => {
  it("names itself with a version, so stored results say which engine wrote them", () => {
    assert.equal(createRulesInterpreter().name, "rules/1");
  });

  it("explains each value by its flag, with the range and the catalog's plain-language meaning", async () => {
    const found = findings(
      "Glucose, fasting 187 mg/dL 70 - 99",
      "Hemoglobin 10.4 g/dL 13.5 - 17.5",
      "Sodium 139 mmol/L 135 - 145",
      "Lipase 30 U/L",
    );
    const { perFinding, summary } = await interpret(input(found));
    assert.equal(perFinding.length, 4);
    assert.match(perFinding[0] ?? "", /^Your Glucose, fasting is above the reference range \(70-99 mg\/dL\)\. .*diabetes/);
    assert.match(perFinding[1] ?? "", /^Your Hemoglobin is below the reference range \(13\.5-17\.5 g\/dL\)\. .*anemia/);
    assert.equal(perFinding[2], "Your Sodium is within the reference range (135-145 mmol/L).");
    assert.match(perFinding[3] ?? "", /could not be compared/);
    assert.equal(
      summary,
      "4 results were found; 1 is within the reference range. 2 are outside it: Glucose, fasting, Hemoglobin. 1 could not be compared with a range.",
    );
  });

  it("tells the user to consult their healthcare provider about every flagged value", async () => {
    const found = findings("Glucose, fasting 187 mg/dL 70 - 99", "Hemoglobin 10.4 g/dL 13.5 - 17.5", "Sodium 139 mmol/L 135 - 145");
    const { safetyWarnings } = await interpret(input(found));
    assert.ok(safetyWarnings.includes("Consult your healthcare provider about the values flagged high: Glucose, fasting."));
    assert.ok(safetyWarnings.includes("Consult your healthcare provider about the values flagged low: Hemoglobin."));
    assert.ok(!safetyWarnings.some((warning) => warning.includes("Sodium")), "a normal value is not named in a warning");
    assert.ok(safetyWarnings.some((warning) => /not a diagnosis/.test(warning)));
  });

  it("adds a prompt-attention warning for critical values, and covers abnormal qualitative results", async () => {
    const found = findings("Potassium 7.2 mmol/L", "Hepatitis B surface antigen Positive Negative");
    const { perFinding, safetyWarnings } = await interpret(input(found));
    assert.match(perFinding[0] ?? "", /far above .*critical limit.*prompt medical attention/);
    assert.equal(safetyWarnings[0], "Seek prompt medical attention: Potassium is beyond a critical limit.");
    assert.ok(safetyWarnings.includes("Consult your healthcare provider about the values flagged high: Potassium."));
    assert.ok(safetyWarnings.includes("Consult your healthcare provider about the abnormal results: Hepatitis B surface antigen."));
  });

  it("gives a normal report no consultation warning, and a low-confidence one a check-the-original warning", async () => {
    const normal = await interpret(input(findings("Sodium 139 mmol/L 135 - 145", "Potassium 4.1 mmol/L 3.5 - 5.1")));
    assert.deepEqual(normal.safetyWarnings, []);
    assert.match(normal.summary, /Nothing in this report is outside its reference range/);
    const unclear = await interpret(input(findings("Sodium 139 mmol/L 135 - 145"), true));
    assert.ok(unclear.safetyWarnings.some((warning) => /could not be read reliably/.test(warning)));
    assert.ok(unclear.safetyWarnings.some((warning) => /not a diagnosis/.test(warning)));
  });

  it("adds the required warnings to what another engine wrote, without repeating the ones it gave", () => {
    const value = input(findings("Glucose, fasting 187 mg/dL 70 - 99"));
    const required = requiredSafetyWarnings(value);
    assert.ok(required.length >= 2);
    // An engine that wrote no warnings at all still yields every required one.
    assert.deepEqual(ensureSafetyWarnings([], value), required);
    const given = ["Drink water.", required[0] ?? ""];
    const ensured = ensureSafetyWarnings(given, value);
    assert.deepEqual(ensured.slice(0, 2), given);
    assert.equal(ensured.filter((warning) => warning === required[0]).length, 1);
    for (const warning of required) assert.ok(ensured.includes(warning));
  });
});
