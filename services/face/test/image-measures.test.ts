// Goal: sharpness falls as an image is blurred and is 0 for a flat one;
// brightness reads 0 for black, 100 for white and the mean grey in between.
import assert from "node:assert/strict";
import sharp, { type Sharp } from "sharp";
import { brightnessOf, faceSampleSizePx, sharpnessOf } from "../src/inference/image-measures.ts";

const size = faceSampleSizePx;

async function greyscale(image: Sharp): Promise<Uint8Array> {
  return new Uint8Array(await image.extractChannel(0).raw().toBuffer());
}

describe("image measures", () => {
  it("grades a detailed image sharp, and less sharp the more it is blurred", async () => {
    // Noise is detail at every scale, like skin texture and hair.
    let seed = 12345;
    const noise = Uint8Array.from({ length: size * size }, () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % 256;
    });
    const raw = { raw: { width: size, height: size, channels: 1 as const } };
    const sharpness = [sharpnessOf(noise, size, size)];
    for (const sigma of [2, 3, 5]) sharpness.push(sharpnessOf(await greyscale(sharp(noise, raw).blur(sigma)), size, size));
    assert.equal(sharpness[0], 100);
    for (let index = 1; index < sharpness.length; index++)
      assert.ok((sharpness[index] ?? 0) < (sharpness[index - 1] ?? 0), JSON.stringify(sharpness));
    assert.ok((sharpness[3] ?? 100) < 20, "a heavy blur is below the usable sharpness");
    assert.equal(sharpnessOf(new Uint8Array(size * size).fill(128), size, size), 0);
  });

  it("reads brightness as the mean grey level on 0 to 100", () => {
    assert.equal(brightnessOf(new Uint8Array(16).fill(0)), 0);
    assert.equal(brightnessOf(new Uint8Array(16).fill(255)), 100);
    assert.equal(Math.round(brightnessOf(Uint8Array.from([0, 255, 0, 255]))), 50);
  });

  it("refuses a buffer that does not match its stated size", () => {
    assert.throws(() => sharpnessOf(new Uint8Array(10), size, size), /greyscale pixels/);
  });
});
