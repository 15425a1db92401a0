// The quality grade of a face from four measurements — size, sharpness,
// brightness and head pose — as Rekognition's DetectFaces reports them. Each
// measurement has a preferred range and a wider usable one:
//   high   every measurement in its preferred range;
//   medium usable, with exactly one measurement outside its preferred range;
//   low    any measurement outside its usable range, or two outside preferred.
// The ranges are README: Quality's table; they are tuned on the sample photos.
import type { MeasuredPose } from "./inference/types.ts";

export type QualityGrade = "low" | "medium" | "high";

export interface QualityMeasurements {
  widthPx: number;
  heightPx: number;
  /** 0 (blurred) to 100 (sharp). */
  sharpness: number;
  /** 0 (black) to 100 (white). */
  brightness: number;
  pose: MeasuredPose;
}

export type QualityMeasurementName = "face_size" | "sharpness" | "brightness" | "pose";

/** One measurement outside its preferred range, said so a person can fix it. */
export interface QualityIssue {
  measurement: QualityMeasurementName;
  /** Whether it is still within the usable range. */
  usable: boolean;
  description: string;
}

export interface QualityAssessment {
  grade: QualityGrade;
  /** Measurements outside their preferred range, worst (unusable) first. */
  issues: QualityIssue[];
}

export const qualityRanges = {
  /** The smaller side of the face box, in source pixels; the embedding model looks at 224 px. */
  faceSizePx: { preferredMin: 112, usableMin: 64 },
  sharpness: { preferredMin: 40, usableMin: 20 },
  brightness: { preferredMin: 20, preferredMax: 80, usableMin: 10, usableMax: 90 },
  /** The largest of |yaw|, |pitch| and |roll|. */
  poseDegrees: { preferredMax: 20, usableMax: 35 },
} as const;

const gradeOrder: Record<QualityGrade, number> = { low: 1, medium: 2, high: 3 };

export function meetsGrade(grade: QualityGrade, minimum: QualityGrade): boolean {
  return gradeOrder[grade] >= gradeOrder[minimum];
}

const rounded = (value: number) => Math.round(value);

function faceSizeIssue(measurements: QualityMeasurements): QualityIssue | undefined {
  const { preferredMin, usableMin } = qualityRanges.faceSizePx;
  const size = Math.min(measurements.widthPx, measurements.heightPx);
  if (size >= preferredMin) return undefined;
  return {
    measurement: "face_size",
    usable: size >= usableMin,
    description: `face is ${rounded(size)} px across; ${size >= usableMin ? `${preferredMin} px preferred` : `at least ${usableMin} px needed`} (move closer)`,
  };
}

function sharpnessIssue(measurements: QualityMeasurements): QualityIssue | undefined {
  const { preferredMin, usableMin } = qualityRanges.sharpness;
  if (measurements.sharpness >= preferredMin) return undefined;
  const usable = measurements.sharpness >= usableMin;
  return {
    measurement: "sharpness",
    usable,
    description: `sharpness ${rounded(measurements.sharpness)} is below ${usable ? preferredMin : usableMin} (image blurred)`,
  };
}

function brightnessIssue(measurements: QualityMeasurements): QualityIssue | undefined {
  const { preferredMin, preferredMax, usableMin, usableMax } = qualityRanges.brightness;
  const brightness = measurements.brightness;
  if (brightness >= preferredMin && brightness <= preferredMax) return undefined;
  const usable = brightness >= usableMin && brightness <= usableMax;
  const [low, high] = usable ? [preferredMin, preferredMax] : [usableMin, usableMax];
  return {
    measurement: "brightness",
    usable,
    description: `brightness ${rounded(brightness)} is outside ${low}-${high} (${brightness < low ? "too dark" : "overexposed"})`,
  };
}

function poseIssue(measurements: QualityMeasurements): QualityIssue | undefined {
  const { preferredMax, usableMax } = qualityRanges.poseDegrees;
  const angles = [
    ["yaw", measurements.pose.yawDegrees],
    ["pitch", measurements.pose.pitchDegrees],
    ["roll", measurements.pose.rollDegrees],
  ] as const;
  const [axis, angle] = angles.reduce((worst, entry) => (Math.abs(entry[1]) > Math.abs(worst[1]) ? entry : worst));
  if (Math.abs(angle) <= preferredMax) return undefined;
  const usable = Math.abs(angle) <= usableMax;
  return {
    measurement: "pose",
    usable,
    description: `head turned ${rounded(Math.abs(angle))} degrees (${axis}); at most ${usable ? preferredMax : usableMax} (face the camera)`,
  };
}

export function gradeQuality(measurements: QualityMeasurements): QualityAssessment {
  const issues = [faceSizeIssue, sharpnessIssue, brightnessIssue, poseIssue]
    .map((check) => check(measurements))
    .filter((issue): issue is QualityIssue => issue !== undefined)
    .sort((first, second) => Number(first.usable) - Number(second.usable));
  const unusable = issues.some((issue) => !issue.usable);
  const grade: QualityGrade = unusable || issues.length >= 2 ? "low" : issues.length === 1 ? "medium" : "high";
  return { grade, issues };
}
