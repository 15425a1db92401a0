// Calibrates the similarity score (src/similarity.ts) on the sample photos that
// @vladmandic/face-api ships: every face of the six group photos is cut out in
// several variants (crop, scale, compression, format), each variant embedded
// by the service's own model, and human's similarity measured for every pair.
// Pairs of one face's variants are "same person", pairs of different faces
// "different people". Prints both distributions, the anchors they give, and
// how the current anchors score them; README: Similarity records a run.
//
//   cd services/face && ../../node_modules/.bin/node scripts/calibrate-similarity.ts

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import sharp from "sharp";
import { loadFaceModel } from "../src/inference/face-model.ts";
import { gradeQuality } from "../src/quality.ts";
import { similarityAnchors, similarityScore } from "../src/similarity.ts";

const require = createRequire(import.meta.url);
const demoDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "demo");

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A square around the face, `margin` face-widths wider on each side, moved by (dx, dy) face-widths. */
function around(face: Box, image: { width: number; height: number }, margin: number, dx = 0, dy = 0): Box {
  const side = Math.max(face.width, face.height) * (1 + 2 * margin);
  const left = Math.max(0, Math.round(face.left + face.width / 2 + dx * face.width - side / 2));
  const top = Math.max(0, Math.round(face.top + face.height / 2 + dy * face.height - side / 2));
  return { left, top, width: Math.min(image.width - left, Math.round(side)), height: Math.min(image.height - top, Math.round(side)) };
}

/** The same face as different captures would show it. */
const variants: Record<string, (photo: Buffer, face: Box, size: { width: number; height: number }) => Promise<Buffer>> = {
  "tight crop, JPEG q92": (photo, face, size) =>
    sharp(photo)
      .extract(around(face, size, 0.3))
      .jpeg({ quality: 92 })
      .toBuffer(),
  "wide crop shifted, 60% scale, JPEG q40": (photo, face, size) =>
    sharp(photo)
      .extract(around(face, size, 0.5, 0.1, 0.08))
      .resize({ width: Math.round(Math.max(face.width, face.height) * 2 * 0.6) })
      .jpeg({ quality: 40 })
      .toBuffer(),
  "face 96 px across, JPEG q60": (photo, face, size) =>
    sharp(photo)
      .extract(around(face, size, 0.35))
      .resize({ width: Math.round(96 * 1.7) })
      .jpeg({ quality: 60 })
      .toBuffer(),
  "crop shifted the other way, PNG": (photo, face, size) =>
    sharp(photo)
      .extract(around(face, size, 0.4, -0.08, -0.05))
      .png()
      .toBuffer(),
};

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

function summary(values: number[]) {
  const sorted = [...values].sort((first, second) => first - second);
  const format = (value: number) => value.toFixed(3);
  return `n=${sorted.length} min=${format(sorted[0] ?? Number.NaN)} p5=${format(percentile(sorted, 0.05))} median=${format(percentile(sorted, 0.5))} p95=${format(percentile(sorted, 0.95))} max=${format(sorted[sorted.length - 1] ?? Number.NaN)}`;
}

const model = await loadFaceModel({ detectionConfidenceMin: 0.5, facesDetectedMax: 10 });
console.log(`model ${model.version}`);
const embedded: { face: string; variant: string; embedding: Float32Array }[] = [];
const grades: Record<string, number> = { high: 0, medium: 0, low: 0 };
for (let sample = 1; sample <= 6; sample++) {
  const photo = await readFile(join(demoDir, `sample${sample}.jpg`));
  const size = await sharp(photo).metadata();
  const faces = await model.locateFaces(photo);
  console.log(`sample${sample}.jpg: ${faces.map((face) => `[${face.left}, ${face.top}, ${face.width}, ${face.height}]`).join(" ")}`);
  for (const [index, face] of faces.entries()) {
    const name = `sample${sample}.jpg face ${index} at [${face.left}, ${face.top}, ${face.width}, ${face.height}]`;
    for (const [variant, derive] of Object.entries(variants)) {
      const image = await derive(photo, face, size);
      const result = await model.analyse({ image, returnEmbedding: true, deadlineAtMs: Number.POSITIVE_INFINITY });
      if (result.kind !== "analysed" || result.facesDetected !== 1 || !result.face?.embedding) {
        console.log(`  skipped ${name} / ${variant}: ${result.kind === "analysed" ? `${result.facesDetected} faces` : result.kind}`);
        continue;
      }
      const grade = gradeQuality(result.face).grade;
      grades[grade] = (grades[grade] ?? 0) + 1;
      embedded.push({ face: name, variant, embedding: result.face.embedding });
    }
  }
}

const same: number[] = [];
const different: number[] = [];
for (let first = 0; first < embedded.length; first++) {
  for (let second = first + 1; second < embedded.length; second++) {
    const [one, other] = [embedded[first], embedded[second]];
    if (!one || !other) continue;
    (one.face === other.face ? same : different).push(model.compare(one.embedding, other.embedding));
  }
}
same.sort((first, second) => first - second);
different.sort((first, second) => first - second);
const leastSame = same[0] ?? Number.NaN;
const mostDifferent = different[different.length - 1] ?? Number.NaN;
console.log(
  `\nfaces embedded: ${new Set(embedded.map((entry) => entry.face)).size}, images: ${embedded.length}, grades: ${JSON.stringify(grades)}`,
);
console.log(`human similarity, same person:      ${summary(same)}`);
console.log(`human similarity, different people: ${summary(different)}`);
console.log(`gap: ${mostDifferent.toFixed(3)} .. ${leastSame.toFixed(3)} (${leastSame > mostDifferent ? "separable" : "OVERLAP"})`);
console.log(`suggested anchors: 80 at ${((leastSame + mostDifferent) / 2).toFixed(3)}, 20 at ${percentile(different, 0.5).toFixed(3)}`);
console.log(`current anchors: ${JSON.stringify(similarityAnchors)}`);
const scored = (values: number[]) => summary(values.map(similarityScore));
console.log(`score, same person:      ${scored(same)}`);
console.log(`score, different people: ${scored(different)}`);
const threshold = 80;
console.log(
  `at threshold ${threshold}: same person below ${same.filter((value) => similarityScore(value) < threshold).length}/${same.length}, different people at or above ${different.filter((value) => similarityScore(value) >= threshold).length}/${different.length}`,
);
