// The seam between the pipeline and whatever writes the plain-language text. The
// built-in rules engine is the default; a language-model provider implements the
// same interface. Whatever the provider writes, the safety warnings the pipeline
// requires are added by ensureSafetyWarnings, so no provider can leave them out.
import { LabFlag } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { isCritical, isFlagged, type LabFinding } from "../lab/assess.ts";

export interface InterpretationInput {
  findings: readonly LabFinding[];
  /** Overall confidence of the reading, 0-1. */
  confidence: number;
  lowConfidence: boolean;
}

export interface Interpretation {
  /** One text per finding, in the same order. */
  perFinding: string[];
  summary: string;
  safetyWarnings: string[];
}

export interface Interpreter {
  /** Engine and version, such as "rules/1", stored with the result. */
  readonly name: string;
  interpret(input: InterpretationInput, signal: AbortSignal): Promise<Interpretation>;
}

/** Thrown by a provider that cannot be reached; the job is retried later. */
export class InterpreterUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InterpreterUnavailableError";
  }
}

const generalWarning =
  "This explanation is for information only and is not a diagnosis; only a healthcare provider can interpret your results for you.";

function namesWith(findings: readonly LabFinding[], flags: readonly LabFlag[]): string[] {
  return findings.filter((finding) => flags.includes(finding.flag)).map((finding) => finding.row.testName);
}

/** The warnings a result must carry, whichever engine wrote its text. */
export function requiredSafetyWarnings(input: InterpretationInput): string[] {
  const warnings: string[] = [];
  const critical = input.findings.filter((finding) => isCritical(finding.flag)).map((finding) => finding.row.testName);
  if (critical.length > 0) {
    warnings.push(`Seek prompt medical attention: ${critical.join(", ")} ${critical.length === 1 ? "is" : "are"} beyond a critical limit.`);
  }
  const high = namesWith(input.findings, [LabFlag.HIGH, LabFlag.CRITICAL_HIGH]);
  if (high.length > 0) warnings.push(`Consult your healthcare provider about the values flagged high: ${high.join(", ")}.`);
  const low = namesWith(input.findings, [LabFlag.LOW, LabFlag.CRITICAL_LOW]);
  if (low.length > 0) warnings.push(`Consult your healthcare provider about the values flagged low: ${low.join(", ")}.`);
  const abnormal = namesWith(input.findings, [LabFlag.ABNORMAL]);
  if (abnormal.length > 0) warnings.push(`Consult your healthcare provider about the abnormal results: ${abnormal.join(", ")}.`);
  if (input.lowConfidence) {
    warnings.push("Parts of this report could not be read reliably; check every value against the original report.");
  }
  if (input.findings.some((finding) => isFlagged(finding.flag)) || input.lowConfidence) warnings.push(generalWarning);
  return warnings;
}

/** The provider's warnings followed by every required one it did not already give. */
export function ensureSafetyWarnings(given: readonly string[], input: InterpretationInput): string[] {
  const result = [...given];
  for (const warning of requiredSafetyWarnings(input)) if (!result.includes(warning)) result.push(warning);
  return result;
}
