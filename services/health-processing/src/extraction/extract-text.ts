// The first pipeline stage: the text of a document as lines, and how it was read.
import { DocumentContentType, TextExtractionMethod } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import type { TextLine } from "../lab/parse-report.ts";
import type { OcrEngine } from "./ocr.ts";
import { readPdf } from "./pdf-text.ts";

export interface ExtractedText {
  lines: TextLine[];
  method: TextExtractionMethod;
}

export async function extractText(
  content: Uint8Array,
  contentType: DocumentContentType,
  ocr: OcrEngine,
  signal: AbortSignal,
): Promise<ExtractedText> {
  if (contentType !== DocumentContentType.PDF) {
    return { lines: await ocr.recognize(content, signal), method: TextExtractionMethod.OCR };
  }
  const pages = await readPdf(content, signal);
  const lines: TextLine[] = [];
  let textPages = 0;
  let scannedPages = 0;
  for (const page of pages) {
    if (page.kind === "text") {
      textPages++;
      lines.push(...page.lines);
    } else {
      scannedPages++;
      lines.push(...(await ocr.recognize(page.image, signal)));
    }
  }
  const method =
    scannedPages === 0 ? TextExtractionMethod.PDF_TEXT_LAYER : textPages === 0 ? TextExtractionMethod.OCR : TextExtractionMethod.MIXED;
  return { lines: lines.filter((line) => line.text.trim() !== ""), method };
}
