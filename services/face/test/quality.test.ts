// Goal: the quality grade follows README: Quality's table — high with every
// measurement in its preferred range, medium with exactly one outside it, low
// with one outside its usable range or two outside preferred — and each issue
// names the measurement and what to fix.
import assert from "node:assert/strict";
import { gradeQuality, meetsGrade, type QualityMeasurements } from "../src/quality.ts";

const good: QualityMeasurements = {
  widthPx: 240,
  heightPx: 260,
  sharpness: 80,
  brightness: 50,
  pose: { yawDegrees: 5, pitchDegrees: -8, rollDegrees: 3 },
};

describe("quality grading", () => {
  it("grades a large, sharp, well-lit, frontal face high, with no issues", () => {
    assert.deepEqual(gradeQuality(good), { grade: "high", issues: [] });
  });

  it("grades one measurement outside its preferred range medium, naming it", () => {
    const cases: [Partial<QualityMeasurements>, string, RegExp][] = [
      [{ widthPx: 90 }, "face_size", /90 px.*112 px preferred/],
      [{ sharpness: 30 }, "sharpness", /sharpness 30 is below 40/],
      [{ brightness: 15 }, "brightness", /too dark/],
      [{ brightness: 85 }, "brightness", /overexposed/],
      [{ pose: { yawDegrees: -28, pitchDegrees: 0, rollDegrees: 0 } }, "pose", /28 degrees \(yaw\)/],
    ];
    for (const [change, measurement, description] of cases) {
      const assessment = gradeQuality({ ...good, ...change });
      assert.equal(assessment.grade, "medium", measurement);
      assert.equal(assessment.issues.length, 1);
      assert.equal(assessment.issues[0]?.measurement, measurement);
      assert.equal(assessment.issues[0]?.usable, true);
      assert.match(assessment.issues[0]?.description ?? "", description);
    }
  });

  it("grades low when one measurement is unusable, listing the unusable one first", () => {
    const assessment = gradeQuality({ ...good, sharpness: 35, widthPx: 40, heightPx: 50 });
    assert.equal(assessment.grade, "low");
    assert.deepEqual(
      assessment.issues.map((issue) => [issue.measurement, issue.usable]),
      [
        ["face_size", false],
        ["sharpness", true],
      ],
    );
    assert.match(assessment.issues[0]?.description ?? "", /at least 64 px needed/);
  });

  it("grades low when two measurements are outside their preferred ranges", () => {
    assert.equal(gradeQuality({ ...good, brightness: 88, pose: { yawDegrees: 0, pitchDegrees: 25, rollDegrees: 0 } }).grade, "low");
  });

  it("takes the face's smaller side for its size and the largest angle for its pose", () => {
    assert.equal(gradeQuality({ ...good, widthPx: 300, heightPx: 100 }).issues[0]?.measurement, "face_size");
    const pose = gradeQuality({ ...good, pose: { yawDegrees: 3, pitchDegrees: -4, rollDegrees: -40 } });
    assert.equal(pose.grade, "low");
    assert.match(pose.issues[0]?.description ?? "", /40 degrees \(roll\)/);
  });

  it("orders grades low < medium < high", () => {
    assert.ok(meetsGrade("high", "medium"));
    assert.ok(meetsGrade("medium", "medium"));
    assert.ok(!meetsGrade("low", "medium"));
    assert.ok(meetsGrade("low", "low"));
    assert.ok(!meetsGrade("medium", "high"));
  });
});
