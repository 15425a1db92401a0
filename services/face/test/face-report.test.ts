// Goal: a measured face is reported as the contract's FaceDetection and
// LivenessCheck: age as a range around the estimate, gender and smile with
// the confidence in the stated value, attributes absent where the model gave
// none, and the liveness floor applied to both scores.
import assert from "node:assert/strict";
import { FaceQuality, Gender } from "@trustmesh/api/trustmesh/face/v1/face_pb.js";
import { attributesOf, detectionOf, livenessOf } from "../src/face-report.ts";
import type { MeasuredFace } from "../src/inference/types.ts";
import { gradeQuality } from "../src/quality.ts";

const face: MeasuredFace = {
  box: { left: 0.1, top: 0.2, width: 0.3, height: 0.4 },
  widthPx: 280,
  heightPx: 290,
  detectionConfidence: 88.26,
  pose: { yawDegrees: 4.44, pitchDegrees: -3, rollDegrees: 1 },
  sharpness: 77.77,
  brightness: 41.2,
  ageYears: 29.4,
  gender: "female",
  genderConfidence: 81,
  happiness: 20,
  antiSpoofScore: 64,
  livenessScore: 99,
};

describe("face report", () => {
  it("reports attributes the model gave, and only those", () => {
    const attributes = attributesOf(face);
    assert.deepEqual([attributes.ageRange?.lowYears, attributes.ageRange?.highYears], [24, 35]);
    assert.equal(attributes.gender, Gender.FEMALE);
    assert.equal(attributes.genderConfidence, 81);
    // happy 20: not smiling, 80% sure of that.
    assert.deepEqual([attributes.smiling, attributes.smileConfidence], [false, 80]);
    const bare = attributesOf({ ...face, ageYears: undefined, gender: undefined, happiness: undefined });
    assert.deepEqual(
      [bare.ageRange, bare.gender, bare.genderConfidence, bare.smiling, bare.smileConfidence],
      [undefined, Gender.UNSPECIFIED, undefined, undefined, undefined],
    );
    assert.equal(attributesOf({ ...face, ageYears: 2 }).ageRange?.lowYears, 0);
  });

  it("reports the box, measurements and grade", () => {
    const detection = detectionOf(face, gradeQuality(face));
    assert.deepEqual(detection.boundingBox, { ...detection.boundingBox, left: 0.1, top: 0.2, width: 0.3, height: 0.4 });
    assert.equal(detection.detectionConfidence, 88.3);
    assert.equal(detection.quality?.sharpness, 77.8);
    assert.equal(detection.quality?.faceWidthPx, 280);
    assert.equal(detection.quality?.pose?.yawDegrees, 4.4);
    assert.equal(detection.quality?.quality, FaceQuality.HIGH);
  });

  it("passes liveness when the floor is 0 or both scores reach it", () => {
    assert.equal(livenessOf(face, 0).passed, true);
    assert.equal(livenessOf(face, 64).passed, true);
    const refused = livenessOf(face, 65);
    assert.deepEqual([refused.passed, refused.floor, refused.antiSpoofScore, refused.livenessScore], [false, 65, 64, 99]);
  });
});
