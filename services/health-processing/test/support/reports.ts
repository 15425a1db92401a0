// Lab reports made by the tests themselves, with known values: a PDF with a text
// layer (pdfkit), a PNG image of a report (an SVG of text rendered by sharp
// with the DejaVu font, large and clear so OCR reads it reliably), a scanned PDF
// (that PNG as the page's only content, no text layer) and a PDF with text but
// no results. Each is made once per test run and shared, since making them (and
// reading them back by OCR) costs time on a small machine.
import assert from "node:assert/strict";
import {
  LabFlag,
  type LabReportResult,
  type LabResult,
  ReferenceRangeSource,
} from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import PDFDocument from "pdfkit";
import sharp from "sharp";

export interface KnownValue {
  name: string;
  value: string;
  unit: string;
  range: string;
  loinc: string;
  ucum: string;
  /** The LabFlag name expected. */
  flag: "NORMAL" | "HIGH" | "LOW";
}

/** Glucose high, hemoglobin low, sodium normal: one of each flag. */
export const knownValues: readonly KnownValue[] = [
  { name: "Glucose, fasting", value: "187", unit: "mg/dL", range: "70 - 99", loinc: "1558-6", ucum: "mg/dL", flag: "HIGH" },
  { name: "Hemoglobin", value: "10.4", unit: "g/dL", range: "13.5 - 17.5", loinc: "718-7", ucum: "g/dL", flag: "LOW" },
  { name: "Sodium", value: "139", unit: "mmol/L", range: "135 - 145", loinc: "2951-2", ucum: "mmol/L", flag: "NORMAL" },
];

/**
 * Asserts a result holds exactly the known values, each with its value, unit, UCUM
 * code, flag, printed range and an explanation, and the warnings for the flagged ones.
 */
export function assertKnownValues(result: LabReportResult): void {
  assert.equal(result.labResults.length, knownValues.length);
  for (const known of knownValues) {
    const found: LabResult | undefined = result.labResults.find((labResult) => labResult.loincCode === known.loinc);
    assert.ok(found, `${known.name} was found`);
    assert.equal(found.valueText, known.value, known.name);
    assert.equal(found.value, Number(known.value), known.name);
    assert.equal(found.unit, known.unit, known.name);
    assert.equal(found.ucumUnit, known.ucum, known.name);
    assert.equal(LabFlag[found.flag], known.flag, known.name);
    assert.equal(found.referenceRange?.source, ReferenceRangeSource.REPORT, known.name);
    assert.ok(found.interpretation.length > 0, known.name);
  }
  assert.ok(result.safetyWarnings.some((warning) => /consult your healthcare provider.*high.*Glucose/i.test(warning)));
  assert.ok(result.safetyWarnings.some((warning) => /consult your healthcare provider.*low.*Hemoglobin/i.test(warning)));
}

/** Words that occur only in the documents, to look for in logs. */
export const documentOnlyMarker = "ZEPHYR PATHOLOGY";

/** Each fixture is made on first use and the same bytes are returned after. */
const made = new Map<string, Promise<Buffer>>();
function once(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
  let bytes = made.get(key);
  if (!bytes) {
    bytes = make();
    made.set(key, bytes);
  }
  return bytes;
}

/** Writes a PDF with pdfkit and collects its bytes. */
async function writePdf(draw: (document: PDFKit.PDFDocument) => void): Promise<Buffer> {
  const document = new PDFDocument({ size: "A4", margin: 50 });
  const chunks: Buffer[] = [];
  document.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => document.on("end", resolve));
  draw(document);
  document.end();
  await ended;
  return Buffer.concat(chunks);
}

export function labReportPdf(): Promise<Buffer> {
  return once("pdf", () => writePdf(drawLabReport));
}

function drawLabReport(document: PDFKit.PDFDocument): void {
  document.fontSize(16).text(`${documentOnlyMarker} - Laboratory Report`);
  document.fontSize(11).text("Collected: 2025-03-14");
  document.text("Reported: 2025-03-15");
  const columns = [50, 220, 300, 380];
  let y = 160;
  for (const row of [
    ["Test", "Result", "Units", "Reference Range"],
    ...knownValues.map((known) => [known.name, known.value, known.unit, known.range]),
  ]) {
    row.forEach((cell, index) => {
      document.text(cell, columns[index], y, { lineBreak: false });
    });
    y += 22;
  }
}

/** A letter with text but no lab results: the pipeline reads it and finds nothing to report. */
export function noResultsPdf(): Promise<Buffer> {
  return once("no-results-pdf", () =>
    writePdf((document) => {
      document.fontSize(12).text("Dear patient, your appointment on Tuesday is confirmed. Please bring your insurance card.");
    }),
  );
}

/** A scanned report: the PNG as the page's only content, with no text layer at all. */
export function scannedLabReportPdf(): Promise<Buffer> {
  return once("scanned-pdf", async () => {
    const png = await labReportPng();
    return writePdf((document) => {
      document.image(png, 50, 50, { width: 495 });
    });
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A PNG of a report. `commentLines` adds lines of narrative text, which makes OCR
 * take longer: the worker-kill test needs the job to be running for a while.
 */
export function labReportPng(commentLines = 0): Promise<Buffer> {
  return once(`png-${commentLines}`, () => drawLabReportPng(commentLines));
}

async function drawLabReportPng(commentLines: number): Promise<Buffer> {
  const lines = [
    `${documentOnlyMarker} - Laboratory Report`,
    "Collected: 2025-03-14",
    "Test    Result    Units    Reference Range",
    ...knownValues.map((known) => `${known.name}    ${known.value}    ${known.unit}    ${known.range}`),
    ...Array.from(
      { length: commentLines },
      (_, index) => `Comment ${index + 1}: specimen received in good condition and analysed as requested`,
    ),
  ];
  const lineHeight = 64;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="${120 + lines.length * lineHeight}">
<rect width="100%" height="100%" fill="white"/>
${lines.map((line, index) => `<text x="40" y="${80 + index * lineHeight}" font-family="DejaVu Sans" font-size="40" fill="black" xml:space="preserve">${escapeXml(line)}</text>`).join("\n")}
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
