// Goal: a document's type is decided by its first bytes, never by its name or
// the client's claim: PDF, JPEG and PNG are accepted whatever they are called;
// an executable, another image type, text or an empty file is refused, with the
// detected type named when there is one.
import assert from "node:assert/strict";
import { DocumentContentType } from "@trustmesh/api/trustmesh/healthprocessing/v1/healthprocessing_pb.js";
import sharp from "sharp";
import { detectContentType } from "../src/documents/content-type.ts";
import { labReportPdf } from "./support/reports.ts";

function image(format: "png" | "jpeg" | "gif" | "webp"): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: "white" } })
    .toFormat(format)
    .toBuffer();
}

describe("content type from magic bytes", () => {
  it("accepts a PDF, a JPEG and a PNG by their content", async () => {
    assert.deepEqual(await detectContentType(await labReportPdf()), { type: DocumentContentType.PDF });
    assert.deepEqual(await detectContentType(await image("jpeg")), { type: DocumentContentType.JPEG });
    assert.deepEqual(await detectContentType(await image("png")), { type: DocumentContentType.PNG });
  });

  it("refuses other image types and executables, naming what they are", async () => {
    assert.deepEqual(await detectContentType(await image("gif")), { rejected: "image/gif" });
    assert.deepEqual(await detectContentType(await image("webp")), { rejected: "image/webp" });
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(4096, 1)]);
    assert.deepEqual(await detectContentType(elf), { rejected: "application/x-elf" });
    const windows = Buffer.concat([Buffer.from("MZ"), Buffer.alloc(4096, 0)]);
    assert.deepEqual(await detectContentType(windows), { rejected: "application/x-msdownload" });
  });

  it("refuses content with no recognisable type, however it would be named", async () => {
    assert.deepEqual(await detectContentType(Buffer.from("Glucose 187 mg/dL\nreport.pdf\n")), { rejected: undefined });
    assert.deepEqual(await detectContentType(new Uint8Array(0)), { rejected: undefined });
    // A PNG's signature alone, with no image header after it, is not taken for a PNG.
    assert.deepEqual(await detectContentType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), { rejected: undefined });
  });
});
