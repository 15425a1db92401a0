// OCR with tesseract.js, entirely offline: the engine (tesseract.js-core) and the
// English model (@tesseract.js-data/eng) load from installed packages, never from
// a CDN, and nothing is cached to disk. Engines are pooled, one per concurrent
// job at most, because starting one costs about half a second; an engine whose
// job timed out is terminated rather than reused, since tesseract cannot be
// interrupted mid-recognition.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createWorker, OEM, type Worker } from "tesseract.js";
import type { TextLine } from "../lab/parse-report.ts";

const require = createRequire(import.meta.url);
/** The LSTM-only English model, which is what OEM.LSTM_ONLY needs. */
const englishModelDir = join(dirname(require.resolve("@tesseract.js-data/eng/package.json")), "4.0.0_best_int");

export interface OcrEngine {
  /** Recognises the text of a PNG or JPEG image, line by line with confidences. */
  recognize(image: Uint8Array, signal: AbortSignal): Promise<TextLine[]>;
  close(): Promise<void>;
}

async function startWorker(): Promise<Worker> {
  return createWorker("eng", OEM.LSTM_ONLY, {
    langPath: englishModelDir,
    gzip: true,
    cacheMethod: "none",
    // tesseract.js logs progress through this; keep it silent so no text reaches logs.
    logger: () => {},
    errorHandler: () => {},
  });
}

interface OcrLine {
  text: string;
  confidence: number;
}

function linesOf(data: { blocks?: { paragraphs: { lines: OcrLine[] }[] }[] | null; text: string }): TextLine[] {
  const lines = (data.blocks ?? []).flatMap((block) => block.paragraphs.flatMap((paragraph) => paragraph.lines));
  if (lines.length === 0) return data.text.split("\n").map((text) => ({ text, confidence: 0.5 }));
  return lines.map((line) => ({ text: line.text.trim(), confidence: Math.max(0, Math.min(1, line.confidence / 100)) }));
}

export function createOcrEngine(options: { poolSizeMax: number }): OcrEngine {
  const idle: Worker[] = [];
  const busy = new Set<Worker>();
  let closed = false;

  async function acquire(): Promise<Worker> {
    if (closed) throw new Error("the OCR engine is closed");
    return idle.pop() ?? (await startWorker());
  }

  function release(worker: Worker): void {
    busy.delete(worker);
    if (closed || idle.length >= options.poolSizeMax) void worker.terminate();
    else idle.push(worker);
  }

  return {
    async recognize(image, signal) {
      signal.throwIfAborted();
      const worker = await acquire();
      busy.add(worker);
      const aborted = new Promise<never>((_, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      try {
        const result = await Promise.race([worker.recognize(Buffer.from(image), {}, { blocks: true, text: true }), aborted]);
        release(worker);
        return linesOf(result.data as unknown as Parameters<typeof linesOf>[0]);
      } catch (error) {
        // A worker interrupted or failed mid-recognition is not trusted again.
        busy.delete(worker);
        void worker.terminate().catch(() => {});
        throw error;
      }
    },
    async close() {
      closed = true;
      const all = [...idle.splice(0), ...busy];
      busy.clear();
      await Promise.allSettled(all.map((worker) => worker.terminate()));
    },
  };
}
