// The processing pipeline: extract text → parse lab results → flag → interpret →
// score. Pure of storage: it takes the decrypted original and returns the result
// message; the worker stores it. Nothing here logs, so neither the document's
// text nor its values can reach a log line.
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type DocumentContentType,
  JobFailureReason,
  JobStage,
  type LabReportResult,
  LabReportResultSchema,
  MedicalFlag,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { extractText } from "./extraction/extract-text.ts";
import type { OcrEngine } from "./extraction/ocr.ts";
import { UnreadableDocumentError } from "./extraction/pdf-text.ts";
import { ensureSafetyWarnings, type Interpreter, InterpreterUnavailableError } from "./interpretation/interpreter.ts";
import { assessRows, isCritical, isFlagged, type LabFinding, reportConfidence } from "./lab/assess.ts";
import { parseReport } from "./lab/parse-report.ts";

/** Below this overall confidence the result carries the LOW_CONFIDENCE flag and a warning. */
export const lowConfidenceThreshold = 0.6;

/** Progress reported when each stage starts. */
export const stageProgress: ReadonlyMap<JobStage, number> = new Map([
  [JobStage.EXTRACTING_TEXT, 5],
  [JobStage.PARSING_LAB_RESULTS, 60],
  [JobStage.FLAGGING_RESULTS, 70],
  [JobStage.INTERPRETING, 80],
  [JobStage.STORING_RESULT, 90],
]);

/** A failure with a reason from the contract; the message is shown to the user and never quotes the document. */
export class PipelineFailure extends Error {
  readonly reason: JobFailureReason;
  constructor(reason: JobFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PipelineFailure";
    this.reason = reason;
  }
}

export interface PipelineDependencies {
  ocr: OcrEngine;
  interpreter: Interpreter;
}

export interface PipelineInput {
  jobId: string;
  documentId: string;
  content: Uint8Array;
  contentType: DocumentContentType;
  /** Called as each stage starts, in order; may throw to stop the pipeline. */
  onStage(stage: JobStage, progressPercent: number): Promise<void>;
  /** Called with each stage's duration. */
  onStageDone(stage: JobStage, seconds: number): void;
  signal: AbortSignal;
}

async function stage<T>(input: PipelineInput, which: JobStage, run: () => Promise<T> | T): Promise<T> {
  input.signal.throwIfAborted();
  await input.onStage(which, stageProgress.get(which) ?? 0);
  const startedAt = performance.now();
  try {
    return await run();
  } finally {
    input.onStageDone(which, (performance.now() - startedAt) / 1000);
  }
}

function medicalFlags(findings: readonly LabFinding[], lowConfidence: boolean): MedicalFlag[] {
  const flags: MedicalFlag[] = [];
  const flagged = findings.some((finding) => isFlagged(finding.flag));
  if (flagged) flags.push(MedicalFlag.ABNORMAL_VALUES);
  if (findings.some((finding) => isCritical(finding.flag))) flags.push(MedicalFlag.CRITICAL_VALUES);
  if (flagged) flags.push(MedicalFlag.REQUIRES_FOLLOWUP);
  if (lowConfidence) flags.push(MedicalFlag.LOW_CONFIDENCE);
  return flags;
}

export async function runPipeline(dependencies: PipelineDependencies, input: PipelineInput): Promise<LabReportResult> {
  const startedAt = performance.now();
  const extracted = await stage(input, JobStage.EXTRACTING_TEXT, async () => {
    try {
      return await extractText(input.content, input.contentType, dependencies.ocr, input.signal);
    } catch (error) {
      if (input.signal.aborted) throw error;
      if (error instanceof UnreadableDocumentError)
        throw new PipelineFailure(
          JobFailureReason.UNREADABLE_DOCUMENT,
          "The file could not be read; it may be damaged or password-protected.",
          { cause: error },
        );
      throw new PipelineFailure(JobFailureReason.UNREADABLE_DOCUMENT, "The file could not be read as an image or PDF.", { cause: error });
    }
  });
  if (extracted.lines.length === 0) throw new PipelineFailure(JobFailureReason.NO_TEXT_FOUND, "No text could be read from the document.");
  const parsed = await stage(input, JobStage.PARSING_LAB_RESULTS, () => parseReport(extracted.lines));
  if (parsed.rows.length === 0)
    throw new PipelineFailure(JobFailureReason.NO_LAB_RESULTS_FOUND, "Text was read, but no lab results were recognised in it.");
  const findings = await stage(input, JobStage.FLAGGING_RESULTS, () => assessRows(parsed.rows));
  const confidence = reportConfidence(findings, parsed.candidateLineCount);
  const lowConfidence = confidence < lowConfidenceThreshold;
  const interpretationInput = { findings, confidence, lowConfidence };
  const interpretation = await stage(input, JobStage.INTERPRETING, async () => {
    try {
      return await dependencies.interpreter.interpret(interpretationInput, input.signal);
    } catch (error) {
      if (error instanceof InterpreterUnavailableError) {
        throw new PipelineFailure(JobFailureReason.INTERPRETER_UNAVAILABLE, "The interpretation service could not be reached.", {
          cause: error,
        });
      }
      throw error;
    }
  });
  return stage(input, JobStage.STORING_RESULT, () =>
    create(LabReportResultSchema, {
      jobId: input.jobId,
      documentId: input.documentId,
      labResults: findings.map((finding, index) => {
        const { row, range } = finding;
        return {
          testName: row.testName,
          loincCode: row.test?.loinc ?? "",
          displayName: row.test?.display ?? "",
          valueText: row.valueText,
          ...(row.value === undefined ? {} : { value: row.value }),
          comparator: row.comparator,
          unit: row.unit,
          ucumUnit: row.ucumUnit ?? "",
          ...(range
            ? {
                referenceRange: {
                  ...(range.low === undefined ? {} : { low: range.low }),
                  ...(range.high === undefined ? {} : { high: range.high }),
                  ...(range.criticalLow === undefined ? {} : { criticalLow: range.criticalLow }),
                  ...(range.criticalHigh === undefined ? {} : { criticalHigh: range.criticalHigh }),
                  unit: range.unit,
                  text: range.text,
                  source: range.source,
                },
              }
            : {}),
          flag: finding.flag,
          interpretation: interpretation.perFinding[index] ?? "",
          confidence: finding.confidence,
        };
      }),
      summary: interpretation.summary,
      safetyWarnings: ensureSafetyWarnings(interpretation.safetyWarnings, interpretationInput),
      medicalFlags: medicalFlags(findings, lowConfidence),
      confidence,
      textExtractionMethod: extracted.method,
      ...(parsed.collectedAt ? { collectedAt: timestampFromDate(parsed.collectedAt) } : {}),
      ...(parsed.reportedAt ? { reportedAt: timestampFromDate(parsed.reportedAt) } : {}),
      interpreter: dependencies.interpreter.name,
      processingDuration: durationFromMs(Math.round(performance.now() - startedAt)),
      completedAt: timestampFromDate(new Date()),
    }),
  );
}
