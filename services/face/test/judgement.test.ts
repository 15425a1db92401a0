// Goal: an analysed image is judged in the contract's order — one face, then
// quality, then presentation attack, then the match — with the comparison and
// confidence the contract asks for at each outcome, and a message naming the
// count or the failing measurement.
import assert from "node:assert/strict";
import type { MeasuredFace } from "../src/inference/types.ts";
import { type FacePolicy, judgeImage, judgeValidation } from "../src/judgement.ts";

const face: MeasuredFace = {
  box: { left: 0.2, top: 0.2, width: 0.5, height: 0.5 },
  widthPx: 300,
  heightPx: 300,
  detectionConfidence: 93.4,
  pose: { yawDegrees: 3, pitchDegrees: 2, rollDegrees: 1 },
  sharpness: 90,
  brightness: 45,
  antiSpoofScore: 70,
  livenessScore: 95,
  modelSimilarity: 0.85,
};
const policy: FacePolicy = { qualityMin: "medium", livenessFloor: 0 };

describe("judging an image", () => {
  it("refuses no face and several faces, naming the count", () => {
    assert.deepEqual(judgeImage(0, undefined, policy), { facesDetected: 0, failure: "no_face", message: "No face found in the image" });
    const several = judgeImage(3, undefined, policy);
    assert.equal(several.failure, "multiple_faces");
    assert.match(several.message, /\(3\)/);
  });

  it("refuses a face below the minimum grade, naming what is wrong", () => {
    const judged = judgeImage(1, { ...face, sharpness: 10 }, policy);
    assert.equal(judged.failure, "low_quality");
    assert.equal(judged.quality?.grade, "low");
    assert.match(judged.message, /Face quality is low, medium needed: sharpness 10 is below 20/);
    assert.equal(judgeImage(1, { ...face, sharpness: 10 }, { ...policy, qualityMin: "low" }).failure, undefined);
  });

  it("reports liveness scores without refusing while the floor is 0, and refuses below a floor", () => {
    assert.equal(judgeImage(1, { ...face, antiSpoofScore: 5 }, policy).failure, undefined);
    const refused = judgeImage(1, face, { ...policy, livenessFloor: 80 });
    assert.equal(refused.failure, "spoof_suspected");
    assert.match(refused.message, /anti-spoof 70 and liveness 95 must reach 80/);
    assert.equal(judgeImage(1, face, { ...policy, livenessFloor: 70 }).failure, undefined);
  });
});

describe("judging a validation", () => {
  it("succeeds at or above the threshold, with the similarity as confidence", () => {
    const verdict = judgeValidation(judgeImage(1, face, policy), 80);
    assert.equal(verdict.status, "success");
    assert.equal(verdict.failureReason, undefined);
    assert.equal(verdict.message, "Face image is valid");
    assert.ok(verdict.comparison && verdict.comparison.similarity >= 80 && verdict.comparison.isMatch);
    assert.equal(verdict.confidence, verdict.comparison?.similarity);
    assert.equal(verdict.comparison?.threshold, 80);
  });

  it("fails below the threshold as no_match, keeping the comparison", () => {
    const verdict = judgeValidation(judgeImage(1, { ...face, modelSimilarity: 0.4 }, policy), 80);
    assert.equal(verdict.status, "failed");
    assert.equal(verdict.failureReason, "no_match");
    assert.equal(verdict.comparison?.isMatch, false);
    assert.ok((verdict.comparison?.similarity ?? 100) < 80);
    // A higher threshold turns a match into a failure.
    assert.equal(judgeValidation(judgeImage(1, face, policy), 99).failureReason, "no_match");
  });

  it("makes no comparison without a single usable face, and falls back to detection confidence, then 0", () => {
    const lowQuality = judgeValidation(judgeImage(1, { ...face, widthPx: 30, heightPx: 30 }, policy), 80);
    assert.deepEqual([lowQuality.failureReason, lowQuality.comparison, lowQuality.confidence], ["low_quality", undefined, 93.4]);
    const none = judgeValidation(judgeImage(0, undefined, policy), 80);
    assert.deepEqual([none.failureReason, none.comparison, none.confidence], ["no_face", undefined, 0]);
    const several = judgeValidation(judgeImage(2, undefined, policy), 80);
    assert.deepEqual([several.failureReason, several.comparison, several.confidence], ["multiple_faces", undefined, 0]);
  });

  it("keeps the comparison of a suspected spoof for fraud review", () => {
    const verdict = judgeValidation(judgeImage(1, face, { ...policy, livenessFloor: 90 }), 80);
    assert.equal(verdict.failureReason, "spoof_suspected");
    assert.equal(verdict.comparison?.isMatch, true);
  });
});
