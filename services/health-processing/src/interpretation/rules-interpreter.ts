// The built-in interpreter: fixed sentences chosen by each value's flag and the
// catalog's plain-language meaning of a high or low value. Deterministic, so its
// output can be tested and audited, and no data leaves the service.
import { LabFlag } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { isFlagged, type LabFinding } from "../lab/assess.ts";
import { type Interpretation, type InterpretationInput, type Interpreter, requiredSafetyWarnings } from "./interpreter.ts";

function formatLimit(value: number): string {
  return String(value);
}

function describeRange(finding: LabFinding): string {
  const range = finding.range;
  if (!range) return "";
  if (range.qualitative !== undefined) return ` (expected: ${range.text})`;
  const unit = range.unit === "" ? "" : ` ${range.unit}`;
  if (range.low !== undefined && range.high !== undefined) return ` (${formatLimit(range.low)}-${formatLimit(range.high)}${unit})`;
  if (range.low !== undefined) return ` (at least ${formatLimit(range.low)}${unit})`;
  if (range.high !== undefined) return ` (below ${formatLimit(range.high)}${unit})`;
  return "";
}

function interpretFinding(finding: LabFinding): string {
  const name = finding.row.testName;
  const range = describeRange(finding);
  const test = finding.row.test;
  switch (finding.flag) {
    case LabFlag.NORMAL:
      return `Your ${name} is within the reference range${range}.`;
    case LabFlag.HIGH:
      return `Your ${name} is above the reference range${range}. ${test?.meaningHigh ?? "A value above the range can have many causes."}`;
    case LabFlag.LOW:
      return `Your ${name} is below the reference range${range}. ${test?.meaningLow ?? "A value below the range can have many causes."}`;
    case LabFlag.CRITICAL_HIGH:
      return `Your ${name} is far above the reference range${range}, beyond the critical limit. This needs prompt medical attention.`;
    case LabFlag.CRITICAL_LOW:
      return `Your ${name} is far below the reference range${range}, beyond the critical limit. This needs prompt medical attention.`;
    case LabFlag.ABNORMAL:
      return `Your ${name} result is outside what is expected${range}.`;
    default:
      return `No reference range was printed or known for ${name}, so it could not be compared.`;
  }
}

function summarize(findings: readonly LabFinding[]): string {
  const total = findings.length;
  const normal = findings.filter((finding) => finding.flag === LabFlag.NORMAL).length;
  const flagged = findings.filter((finding) => isFlagged(finding.flag));
  const unjudged = total - normal - flagged.length;
  const parts = [
    `${total} ${total === 1 ? "result was" : "results were"} found; ${normal} ${normal === 1 ? "is" : "are"} within the reference range.`,
  ];
  if (flagged.length > 0) {
    parts.push(
      `${flagged.length} ${flagged.length === 1 ? "is" : "are"} outside it: ${flagged.map((finding) => finding.row.testName).join(", ")}.`,
    );
  } else if (normal === total) {
    parts.push("Nothing in this report is outside its reference range.");
  }
  if (unjudged > 0) parts.push(`${unjudged} could not be compared with a range.`);
  return parts.join(" ");
}

export function createRulesInterpreter(): Interpreter {
  return {
    name: "rules/1",
    async interpret(input: InterpretationInput): Promise<Interpretation> {
      return {
        perFinding: input.findings.map(interpretFinding),
        summary: summarize(input.findings),
        safetyWarnings: requiredSafetyWarnings(input),
      };
    },
  };
}
