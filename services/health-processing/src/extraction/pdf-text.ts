// Text from PDFs with pdfjs-dist (its legacy build, the one made for Node). Text
// items are put back into lines by their position, since a PDF stores positioned
// strings, not lines. Pages with (almost) no text layer are scanned pages: they
// are rendered to an image for OCR.
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import type { TextLine } from "../lab/parse-report.ts";

/** Pages read at most; lab reports are a few pages, and every page costs time. */
export const pdfPagesMax = 20;
/** A page with fewer characters than this in its text layer is treated as scanned. */
const scannedPageCharactersMax = 10;
/** Scanned pages are rendered at this many pixels per PDF point, enough for OCR. */
const renderScale = 2.5;

export class UnreadableDocumentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnreadableDocumentError";
  }
}

export type PdfPage = { kind: "text"; lines: TextLine[] } | { kind: "scanned"; image: Uint8Array };

interface PositionedText {
  str: string;
  transform: number[];
}

/** Groups positioned strings into lines: same baseline (within tolerance), left to right. */
function toLines(items: readonly PositionedText[]): TextLine[] {
  const rows: { y: number; parts: { x: number; text: string }[] }[] = [];
  for (const item of items) {
    if (item.str.trim() === "") continue;
    const x = item.transform[4] ?? 0;
    const y = item.transform[5] ?? 0;
    const row = rows.find((candidate) => Math.abs(candidate.y - y) < 2);
    if (row) row.parts.push({ x, text: item.str });
    else rows.push({ y, parts: [{ x, text: item.str }] });
  }
  return rows
    .sort((a, b) => b.y - a.y)
    .map((row) => ({
      text: row.parts
        .sort((a, b) => a.x - b.x)
        .map((part) => part.text.trim())
        .join(" "),
      confidence: 1,
    }));
}

/** Reads every page (up to pdfPagesMax): text lines, or a rendered image for scanned pages. */
export async function readPdf(bytes: Uint8Array, signal: AbortSignal): Promise<PdfPage[]> {
  const task = getDocument({
    data: new Uint8Array(bytes),
    // Bounds the memory one embedded image may take when decoded (pixels).
    maxImageSize: 40_000_000,
    disableFontFace: true,
    useSystemFonts: false,
    // Errors only: pdfjs warnings go to the console, outside the structured logs.
    verbosity: 0,
  });
  try {
    let document: Awaited<typeof task.promise>;
    try {
      document = await task.promise;
    } catch (error) {
      throw new UnreadableDocumentError("the PDF could not be opened", { cause: error });
    }
    const pages: PdfPage[] = [];
    const pageCount = Math.min(document.numPages, pdfPagesMax);
    for (let number = 1; number <= pageCount; number++) {
      signal.throwIfAborted();
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      const lines = toLines(content.items.filter((item): item is PositionedText & typeof item => "str" in item));
      const characters = lines.reduce((sum, line) => sum + line.text.length, 0);
      if (characters >= scannedPageCharactersMax) {
        pages.push({ kind: "text", lines });
        continue;
      }
      const viewport = page.getViewport({ scale: renderScale });
      const factory = document.canvasFactory as {
        create(width: number, height: number): { canvas: { toBuffer(mime: "image/png"): Buffer } };
      };
      const target = factory.create(Math.ceil(viewport.width), Math.ceil(viewport.height));
      await page.render({ canvas: target.canvas as never, viewport, background: "white" }).promise;
      pages.push({ kind: "scanned", image: target.canvas.toBuffer("image/png") });
    }
    return pages;
  } finally {
    await task.destroy();
  }
}
