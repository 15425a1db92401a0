// Goal: images are accepted by their content — JPEG and PNG signatures, at
// most 5 MB — and anything else is INVALID_ARGUMENT naming the field.
import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import type { DomainError } from "@trustmesh/runtime";
import sharp from "sharp";
import { checkImageContent, imageBytesMax } from "../src/image-content.ts";

const refused = (reason: string) => (error: DomainError) => {
  assert.equal(error.code, Code.InvalidArgument);
  assert.equal(error.reason, reason);
  assert.equal(error.violations[0]?.field, "image");
  return true;
};

describe("image content check", () => {
  it("recognises real JPEG and PNG files by their bytes", async () => {
    const pixels = sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } });
    assert.equal(checkImageContent(await pixels.clone().jpeg().toBuffer()), "jpeg");
    assert.equal(checkImageContent(await pixels.clone().png().toBuffer()), "png");
  });

  it("refuses other formats whatever they are called", async () => {
    const pixels = sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } });
    assert.throws(() => checkImageContent(Buffer.from("GIF89a...")), refused("IMAGE_TYPE_UNSUPPORTED"));
    const webp = await pixels.clone().webp().toBuffer();
    assert.throws(() => checkImageContent(webp), refused("IMAGE_TYPE_UNSUPPORTED"));
    assert.throws(() => checkImageContent(Buffer.from("%PDF-1.7")), refused("IMAGE_TYPE_UNSUPPORTED"));
    // A JPEG signature alone, with nothing after it, is not an image either.
    assert.throws(() => checkImageContent(new Uint8Array([0xff, 0xd8, 0xff])), refused("IMAGE_TYPE_UNSUPPORTED"));
  });

  it("refuses an empty image and one over 5 MB", () => {
    assert.throws(() => checkImageContent(new Uint8Array()), refused("IMAGE_EMPTY"));
    const large = new Uint8Array(imageBytesMax + 1);
    large.set([0xff, 0xd8, 0xff, 0xe0]);
    assert.throws(() => checkImageContent(large), refused("IMAGE_TOO_LARGE"));
  });
});
