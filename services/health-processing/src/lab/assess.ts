// Compares each parsed value with its reference range and flags it: the range
// printed on the report when there is one (it fits the lab's method), else the
// catalog's adult range converted into the value's unit. Critical limits come
// from the catalog either way, since reports rarely print them. A value without
// a unit is never judged against a built-in range: 5.4 is normal glucose in
// mmol/L and dangerously low in mg/dL, and guessing would be unsafe.
import { LabFlag, ReferenceRangeSource } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import { type CatalogTest, conversionFactor } from "./catalog.ts";
import type { ParsedRow } from "./parse-report.ts";

export interface AssessedRange {
  low?: number;
  high?: number;
  criticalLow?: number;
  criticalHigh?: number;
  /** UCUM unit of the limits: the value's. */
  unit: string;
  /** As printed; empty for built-in ranges. */
  text: string;
  qualitative?: string;
  source: ReferenceRangeSource;
}

export interface LabFinding {
  row: ParsedRow;
  range?: AssessedRange;
  flag: LabFlag;
  /** Confidence that name, value and unit were read correctly, 0-1. */
  confidence: number;
}

/** Keeps converted limits readable: four significant digits. */
function roundLimit(value: number): number {
  return Number(value.toPrecision(4));
}

function convertLimit(limit: number | undefined, factor: number): number | undefined {
  return limit === undefined ? undefined : roundLimit(limit / factor);
}

function criticalLimits(test: CatalogTest | undefined, factor: number | undefined): Pick<AssessedRange, "criticalLow" | "criticalHigh"> {
  if (!test || factor === undefined) return {};
  const criticalLow = convertLimit(test.criticalLow, factor);
  const criticalHigh = convertLimit(test.criticalHigh, factor);
  return { ...(criticalLow === undefined ? {} : { criticalLow }), ...(criticalHigh === undefined ? {} : { criticalHigh }) };
}

export function resolveRange(row: ParsedRow): AssessedRange | undefined {
  const factor = row.test ? conversionFactor(row.test, row.ucumUnit) : undefined;
  const unit = row.ucumUnit ?? row.unit;
  if (row.printedRange) {
    const { low, high, qualitative, text } = row.printedRange;
    return {
      ...(low === undefined ? {} : { low }),
      ...(high === undefined ? {} : { high }),
      ...(qualitative === undefined ? {} : { qualitative }),
      ...criticalLimits(row.test, factor),
      unit,
      text,
      source: ReferenceRangeSource.REPORT,
    };
  }
  if (!row.test || factor === undefined) return undefined;
  const low = convertLimit(row.test.low, factor);
  const high = convertLimit(row.test.high, factor);
  return {
    ...(low === undefined ? {} : { low }),
    ...(high === undefined ? {} : { high }),
    ...criticalLimits(row.test, factor),
    unit,
    text: "",
    source: ReferenceRangeSource.BUILT_IN,
  };
}

const normalQualitative = /^(negative|non[- ]?reactive|not detected|normal)$/i;

function printedFlagToLabFlag(printed: string): LabFlag | undefined {
  switch (printed) {
    case "H":
      return LabFlag.HIGH;
    case "L":
      return LabFlag.LOW;
    case "HH":
      return LabFlag.CRITICAL_HIGH;
    case "LL":
      return LabFlag.CRITICAL_LOW;
    case "A":
      return LabFlag.ABNORMAL;
    default:
      return undefined;
  }
}

export function flagValue(row: ParsedRow, range: AssessedRange | undefined): LabFlag {
  if (row.value === undefined) {
    // Qualitative: compared with a qualitative range, or judged by the usual normal words.
    if (range?.qualitative !== undefined) {
      return row.valueText.toLowerCase().replace("-", " ") === range.qualitative.replace("-", " ") ? LabFlag.NORMAL : LabFlag.ABNORMAL;
    }
    if (normalQualitative.test(row.valueText)) return LabFlag.NORMAL;
    return (
      printedFlagToLabFlag(row.printedFlag) ??
      (/positive|reactive|detected|abnormal/i.test(row.valueText) ? LabFlag.ABNORMAL : LabFlag.NO_REFERENCE_RANGE)
    );
  }
  const value = row.value;
  // A censored value lies beyond its bound: "<40" against a critical low of 40 is
  // critically low. A value censored the other way (">30" against a critical low
  // of 40) is not called critical, since the lab did not measure it as such.
  const { comparator } = row;
  const criticalLow = range?.criticalLow;
  if (
    criticalLow !== undefined &&
    ((value < criticalLow && comparator !== ">" && comparator !== ">=") || (comparator === "<" && value <= criticalLow))
  ) {
    return LabFlag.CRITICAL_LOW;
  }
  const criticalHigh = range?.criticalHigh;
  if (
    criticalHigh !== undefined &&
    ((value > criticalHigh && comparator !== "<" && comparator !== "<=") || (comparator === ">" && value >= criticalHigh))
  ) {
    return LabFlag.CRITICAL_HIGH;
  }
  if (range && (range.low !== undefined || range.high !== undefined)) {
    // Likewise "<0.1" against a low of 0.1 is low.
    if (range.low !== undefined && (value < range.low || (row.comparator === "<" && value <= range.low))) return LabFlag.LOW;
    if (range.high !== undefined && (value > range.high || (row.comparator === ">" && value >= range.high))) return LabFlag.HIGH;
    return LabFlag.NORMAL;
  }
  return printedFlagToLabFlag(row.printedFlag) ?? LabFlag.NO_REFERENCE_RANGE;
}

/** How far one result can be trusted: recognised name, known unit, a range, and how clearly it was read. */
export function findingConfidence(row: ParsedRow, range: AssessedRange | undefined): number {
  let confidence = row.lineConfidence;
  if (!row.test) confidence *= 0.8;
  if (row.value !== undefined && row.ucumUnit === undefined) confidence *= 0.7;
  if (!range) confidence *= 0.85;
  return Math.round(Math.max(0, Math.min(1, confidence)) * 1000) / 1000;
}

export function assessRows(rows: readonly ParsedRow[]): LabFinding[] {
  return rows.map((row) => {
    const range = resolveRange(row);
    return { row, ...(range ? { range } : {}), flag: flagValue(row, range), confidence: findingConfidence(row, range) };
  });
}

/**
 * Confidence of the whole report: the mean confidence of its results, scaled by
 * the share of result-like lines that were recognised, so a report half of which
 * could not be read does not score as if it were complete.
 */
export function reportConfidence(findings: readonly LabFinding[], candidateLineCount: number): number {
  if (findings.length === 0) return 0;
  const mean = findings.reduce((sum, finding) => sum + finding.confidence, 0) / findings.length;
  const coverage = Math.min(1, findings.length / Math.max(1, candidateLineCount));
  return Math.round(mean * (0.5 + 0.5 * coverage) * 1000) / 1000;
}

export function isFlagged(flag: LabFlag): boolean {
  return (
    flag === LabFlag.LOW ||
    flag === LabFlag.HIGH ||
    flag === LabFlag.CRITICAL_LOW ||
    flag === LabFlag.CRITICAL_HIGH ||
    flag === LabFlag.ABNORMAL
  );
}

export function isCritical(flag: LabFlag): boolean {
  return flag === LabFlag.CRITICAL_LOW || flag === LabFlag.CRITICAL_HIGH;
}
