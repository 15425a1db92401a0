// Goal: the similarity score passes through its calibrated anchors, rises with
// human's similarity, stays within 0 to 100 and refuses what is not a number.
import assert from "node:assert/strict";
import { similarityAnchors, similarityScore } from "../src/similarity.ts";

describe("similarity score", () => {
  it("maps every anchor to its score, identical embeddings to 100 and unrelated ones to 0", () => {
    for (const [modelSimilarity, score] of similarityAnchors) assert.equal(similarityScore(modelSimilarity), score);
    assert.equal(similarityScore(1), 100);
    assert.equal(similarityScore(0), 0);
  });

  it("puts the default threshold, 80, between the calibrated same-person and different-people ranges", () => {
    // From the calibration run in README: Similarity — least similar same-person pair 0.67,
    // most similar different-people pair 0.55.
    assert.ok(similarityScore(0.67) >= 80);
    assert.ok(similarityScore(0.55) < 80);
  });

  it("rises strictly with human's similarity and clamps outside 0 to 1", () => {
    let previous = -1;
    for (let value = 0; value <= 1.0001; value += 0.01) {
      const score = similarityScore(value);
      assert.ok(score > previous, `score at ${value.toFixed(2)}`);
      previous = score;
    }
    assert.equal(similarityScore(1.2), 100);
    assert.equal(similarityScore(-0.3), 0);
  });

  it("refuses NaN and infinities", () => {
    assert.throws(() => similarityScore(Number.NaN), /not a number/);
    assert.throws(() => similarityScore(Number.POSITIVE_INFINITY), /not a number/);
  });
});
