// Turns @vladmandic/human's similarity of two face embeddings into a 0 to 100
// score whose default threshold, 80, means what Rekognition's does: above it
// the faces are the same person.
//
// human's match.similarity (Euclidean, multiplier 25, min 0, max 1) is
// 1 - d/20 for an embedding distance d. Its own normalisation (min 0.2, max 0.8,
// "above 0.5 is a match") lets through look-alikes among the sample photos, and
// saturates at 1 for most true pairs, so the score is instead a piecewise-linear
// map through anchor points measured on the sample photos
// (scripts/calibrate-similarity.ts; README: Similarity):
//   - 80 sits midway between the least similar pair of images of one person and
//     the most similar pair of different people;
//   - 20 is the median of pairs of different people;
//   - identical embeddings score 100, and 0 stays 0.

/** [human's similarity, score] pairs, increasing. Recalibrate when the model changes. */
export const similarityAnchors: readonly (readonly [number, number])[] = [
  [0, 0],
  [0.37, 20],
  [0.61, 80],
  [1, 100],
];

/** The score, 0 to 100 with one decimal, for a similarity of human's model (0 to 1). */
export function similarityScore(modelSimilarity: number): number {
  if (!Number.isFinite(modelSimilarity)) throw new Error(`similarity ${modelSimilarity} is not a number`);
  const clamped = Math.min(1, Math.max(0, modelSimilarity));
  for (let index = 1; index < similarityAnchors.length; index++) {
    const [fromX, fromY] = similarityAnchors[index - 1] as readonly [number, number];
    const [toX, toY] = similarityAnchors[index] as readonly [number, number];
    if (clamped <= toX) return Math.round(10 * (fromY + ((clamped - fromX) * (toY - fromY)) / (toX - fromX))) / 10;
  }
  return 100;
}
