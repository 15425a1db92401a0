// Goal: the real models, in real worker threads, do what the service relies
// on. With the sample photos: the same person in another capture (crop, scale,
// compression, format, orientation, colour) scores at least the default
// threshold of 80 against their reference, and different people score below
// it; a group photo counts its faces; an image with no face finds none; bytes
// that do not decode are reported, not thrown. The pool's queue is bounded
// (RESOURCE_EXHAUSTED beyond it), and work whose caller is gone is skipped.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, createMetrics, type DomainError } from "@trustmesh/runtime";
import sharp from "sharp";
import { createFaceMetrics } from "../src/face-metrics.ts";
import { type AnalysedImage, createInferencePool, type InferencePool, type InferenceRequest } from "../src/inference/inference-pool.ts";
import type { MeasuredFace } from "../src/inference/types.ts";
import { similarityScore } from "../src/similarity.ts";
import { type Capture, groupPhoto, type PersonName, people, photoWithoutFace, portrait } from "./support/sample-faces.ts";

const threshold = 80;
const names = Object.keys(people) as PersonName[];

describe("face models in the inference pool", function () {
  this.timeout(300_000);
  let pool: InferencePool;
  const references = new Map<PersonName, Float32Array>();

  const analyse = (image: Uint8Array, options: Partial<InferenceRequest> = {}) =>
    pool.analyse({
      operation: "validate",
      image,
      returnEmbedding: false,
      deadlineAtMs: Date.now() + 60_000,
      signal: new AbortController().signal,
      ...options,
    });

  function singleFace(result: AnalysedImage): MeasuredFace {
    assert.equal(result.kind, "analysed");
    if (result.kind !== "analysed") throw new Error("unreachable");
    assert.equal(result.facesDetected, 1);
    assert.ok(result.face);
    return result.face;
  }

  async function scoreAgainst(reference: PersonName, image: Uint8Array): Promise<number> {
    const face = singleFace(await analyse(image, { referenceEmbedding: references.get(reference) }));
    assert.ok(face.modelSimilarity !== undefined);
    return similarityScore(face.modelSimilarity);
  }

  before(async () => {
    pool = await createInferencePool({
      workers: 1,
      queueMax: 2,
      warmUpTimeoutMs: 120_000,
      model: { detectionConfidenceMin: 0.5, facesDetectedMax: 10 },
      metrics: createFaceMetrics(createMetrics({ serviceName: "face-test" })),
      logger: createLogger({ name: "face-test", level: "silent" }),
    });
    for (const name of names) {
      const face = singleFace(await analyse(await portrait(name, "reference"), { operation: "enrol", returnEmbedding: true }));
      assert.equal(face.embedding?.length, 1024);
      references.set(name, face.embedding as Float32Array);
    }
  });

  after(async () => {
    await pool?.close();
  });

  it("scores the same person in other captures at or above the threshold", async () => {
    const captures: Capture[] = ["recompressed", "png", "small"];
    for (const name of names) {
      for (const capture of captures) {
        const score = await scoreAgainst(name, await portrait(name, capture));
        assert.ok(score >= threshold, `${name} ${capture}: ${score}`);
      }
    }
  });

  it("scores different people below the threshold", async () => {
    const scores: number[] = [];
    for (const reference of names) {
      for (const other of names) {
        if (other === reference) continue;
        const score = await scoreAgainst(reference, await portrait(other, "recompressed"));
        assert.ok(score < threshold, `${other} against ${reference}'s reference: ${score}`);
        scores.push(score);
      }
    }
    assert.equal(scores.length, names.length * (names.length - 1));
  });

  it("finds the same face rotated by EXIF orientation, in greyscale, with an alpha channel and in 16-bit PNG", async () => {
    const reference = await portrait("dana", "reference");
    const variants = {
      // Pixels stored sideways with orientation 6: a viewer (and the service) turns them upright.
      "EXIF orientation 6": await sharp(reference).rotate(-90).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
      greyscale: await sharp(reference).greyscale().png().toBuffer(),
      "alpha channel": await sharp(reference).ensureAlpha(0.9).png().toBuffer(),
      "16-bit PNG": await sharp(reference).toColourspace("rgb16").png().toBuffer(),
    };
    for (const [variant, image] of Object.entries(variants)) {
      const score = await scoreAgainst("dana", image);
      assert.ok(score >= threshold, `${variant}: ${score}`);
    }
  });

  it("measures the face: box inside the image, size in source pixels, scores on 0 to 100, attributes", async () => {
    const image = await portrait("ada", "reference");
    const { width = 0 } = await sharp(image).metadata();
    const face = singleFace(await analyse(image));
    for (const value of Object.values(face.box)) assert.ok(value >= 0 && value <= 1, JSON.stringify(face.box));
    assert.ok(Math.abs(face.widthPx - face.box.width * width) <= 2);
    assert.ok(face.widthPx > 200 && face.widthPx < 450, `ada's face is about 350 px wide: ${face.widthPx}`);
    for (const score of [face.detectionConfidence, face.sharpness, face.brightness, face.antiSpoofScore, face.livenessScore]) {
      assert.ok(score >= 0 && score <= 100, JSON.stringify(face));
    }
    assert.ok(face.detectionConfidence >= 50);
    assert.ok(face.ageYears !== undefined && face.ageYears > 10 && face.ageYears < 60);
    assert.ok(face.gender === "female" || face.gender === "male");
    assert.ok(face.happiness !== undefined);
    assert.equal(face.embedding, undefined, "the embedding leaves the worker only when asked for");
  });

  it("counts the faces of a group photo without measuring any, and finds none where there is none", async () => {
    const group = await analyse(await groupPhoto());
    assert.deepEqual(
      [group.kind, group.kind === "analysed" && group.facesDetected, group.kind === "analysed" && group.face],
      ["analysed", 3, undefined],
    );
    const empty = await analyse(await photoWithoutFace());
    assert.deepEqual([empty.kind, empty.kind === "analysed" && empty.facesDetected], ["analysed", 0]);
  });

  it("reports bytes that do not decode instead of failing", async () => {
    const jpeg = await portrait("bea", "reference");
    const truncated = await analyse(jpeg.subarray(0, Math.floor(jpeg.length / 3)));
    assert.equal(truncated.kind, "undecodable");
    const png = await sharp(jpeg).png().toBuffer();
    const corrupt = Buffer.concat([png.subarray(0, 40), Buffer.alloc(2000, 7)]);
    assert.equal((await analyse(corrupt)).kind, "undecodable");
  });

  it("refuses images beyond the bounded queue with RESOURCE_EXHAUSTED, and answers the rest", async () => {
    const image = await portrait("cleo", "reference");
    // One worker busy and two waiting fill the pool (queueMax 2); the fourth and fifth are refused at once.
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => analyse(image)));
    const refused = results.filter((result) => result.status === "rejected");
    assert.equal(results.filter((result) => result.status === "fulfilled").length, 3);
    assert.equal(refused.length, 2);
    for (const result of refused) {
      const error = (result as PromiseRejectedResult).reason as DomainError;
      assert.equal(error.code, Code.ResourceExhausted);
      assert.equal(error.reason, "INFERENCE_QUEUE_FULL");
    }
  });

  it("skips an image whose deadline passed while it waited, and stops waiting when the call is cancelled", async () => {
    const image = await portrait("eve", "reference");
    const busy = analyse(image);
    await assert.rejects(analyse(image, { deadlineAtMs: Date.now() + 5 }), (error: ConnectError) => error.code === Code.DeadlineExceeded);
    const cancel = new AbortController();
    const cancelled = analyse(image, { signal: cancel.signal });
    cancel.abort(new ConnectError("caller went away", Code.Canceled));
    await assert.rejects(cancelled, (error: ConnectError) => error.code === Code.Canceled);
    assert.equal((await busy).kind, "analysed");
  });
});
