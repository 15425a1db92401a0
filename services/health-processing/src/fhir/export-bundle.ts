// A result as a FHIR R4 Bundle (type collection): one DiagnosticReport and one
// Observation per lab value, with LOINC codes, UCUM units, reference ranges and
// HL7 v3 interpretation codes. Decimals keep the precision the lab printed
// ("11.20" stays 11.20), which JSON.stringify alone would lose.
import { randomUUID } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Bundle, CodeableConcept, DiagnosticReport, Observation, Quantity } from "@medplum/fhirtypes";
import { LabFlag, type LabReportResult, type LabResult } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";

export const fhirVersion = "4.0.1";
export const fhirMediaType = "application/fhir+json";

const loincSystem = "http://loinc.org";
const ucumSystem = "http://unitsofmeasure.org";
const interpretationSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

const interpretationCodes: ReadonlyMap<LabFlag, { code: string; display: string }> = new Map([
  [LabFlag.NORMAL, { code: "N", display: "Normal" }],
  [LabFlag.LOW, { code: "L", display: "Low" }],
  [LabFlag.HIGH, { code: "H", display: "High" }],
  [LabFlag.CRITICAL_LOW, { code: "LL", display: "Critical low" }],
  [LabFlag.CRITICAL_HIGH, { code: "HH", display: "Critical high" }],
  [LabFlag.ABNORMAL, { code: "A", display: "Abnormal" }],
]);

/** A decimal to be written with exactly these digits; replaced after stringify. */
interface RawDecimal {
  __decimal: string;
}

function decimal(value: number, printed?: string): number {
  const digits = printed
    ?.replace(/^[<>≤≥=]+/, "")
    .replace(",", ".")
    .trim();
  // Only a printed form that is the same number keeps its digits.
  if (digits !== undefined && /^-?\d+(\.\d+)?$/.test(digits) && Number(digits) === value) {
    return { __decimal: digits } satisfies RawDecimal as unknown as number;
  }
  return value;
}

function quantity(value: number, result: LabResult, printed?: string): Quantity {
  return {
    value: decimal(value, printed),
    ...(result.unit === "" ? {} : { unit: result.unit }),
    ...(result.ucumUnit === "" ? {} : { system: ucumSystem, code: result.ucumUnit }),
  };
}

function observationOf(result: LabResult, id: string, effective: string | undefined): Observation {
  const code: CodeableConcept = {
    ...(result.loincCode === "" ? {} : { coding: [{ system: loincSystem, code: result.loincCode, display: result.displayName }] }),
    text: result.testName,
  };
  const interpretation = interpretationCodes.get(result.flag);
  const range = result.referenceRange;
  const comparator = result.comparator === "" ? {} : { comparator: result.comparator as Quantity["comparator"] };
  const referenceRange =
    range && (range.low !== undefined || range.high !== undefined || range.text !== "")
      ? [
          {
            ...(range.low === undefined ? {} : { low: quantity(range.low, result) }),
            ...(range.high === undefined ? {} : { high: quantity(range.high, result) }),
            ...(range.text === "" ? {} : { text: range.text }),
          },
        ]
      : undefined;
  return {
    resourceType: "Observation",
    id,
    status: "final",
    category: [
      {
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory", display: "Laboratory" }],
      },
    ],
    code,
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(result.value === undefined
      ? { valueString: result.valueText }
      : { valueQuantity: { ...quantity(result.value, result, result.valueText), ...comparator } }),
    ...(interpretation
      ? { interpretation: [{ coding: [{ system: interpretationSystem, ...interpretation }], text: interpretation.display }] }
      : {}),
    ...(referenceRange ? { referenceRange } : {}),
    ...(result.interpretation === "" ? {} : { note: [{ text: result.interpretation }] }),
  };
}

export interface FhirExport {
  bundleId: string;
  bundleJson: string;
  generatedAt: Date;
}

/** The Bundle for one result; `subjectId` identifies the user without a Patient resource. */
export function buildFhirBundle(result: LabReportResult, subjectId: string, now: Date = new Date()): FhirExport {
  const bundleId = randomUUID();
  const reportId = randomUUID();
  const observationIds = result.labResults.map(() => randomUUID());
  const effective = result.collectedAt ? timestampDate(result.collectedAt).toISOString() : undefined;
  const issuedAt = result.reportedAt ?? result.completedAt;
  const issued = issuedAt ? timestampDate(issuedAt).toISOString() : undefined;
  const subject = { identifier: { system: "urn:trustmesh:user", value: subjectId } };
  const report: DiagnosticReport = {
    resourceType: "DiagnosticReport",
    id: reportId,
    status: "final",
    category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0074", code: "LAB", display: "Laboratory" }] }],
    code: { coding: [{ system: loincSystem, code: "11502-2", display: "Laboratory report" }], text: "Laboratory report" },
    subject,
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(issued ? { issued } : {}),
    result: observationIds.map((id) => ({ reference: `urn:uuid:${id}` })),
    ...(result.summary === "" ? {} : { conclusion: result.summary }),
  };
  const bundle: Bundle = {
    resourceType: "Bundle",
    id: bundleId,
    type: "collection",
    timestamp: now.toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${reportId}`, resource: report },
      ...result.labResults.map((labResult, index) => {
        const id = observationIds[index] as string;
        return { fullUrl: `urn:uuid:${id}`, resource: { ...observationOf(labResult, id, effective), subject } };
      }),
    ],
  };
  const bundleJson = JSON.stringify(bundle).replace(/\{"__decimal":"(-?\d+(?:\.\d+)?)"\}/g, "$1");
  return { bundleId, bundleJson, generatedAt: now };
}
