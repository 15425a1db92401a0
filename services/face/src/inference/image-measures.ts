// Sharpness and brightness of a face region, from its greyscale pixels. The
// region is first resized to a fixed square (faceSampleSizePx) so that the
// numbers do not depend on how large the face was in the image; face size is
// graded on its own.

/** Side of the square greyscale sample the measures are taken on. */
export const faceSampleSizePx = 128;

/**
 * The Laplacian's standard deviation at which sharpness reads 100. A sharp,
 * well-lit face photo measures 15 to 25 on the sample; a Gaussian blur of
 * sigma 2 halves that and sigma 5 leaves 3 to 4 (README: Quality).
 */
const laplacianDeviationForFullSharpness = 20;

/**
 * Sharpness from 0 (blurred) to 100 (sharp): the standard deviation of the
 * 4-neighbour Laplacian, the usual focus measure, scaled and capped.
 */
export function sharpnessOf(grey: Uint8Array, width: number, height: number): number {
  if (grey.length !== width * height) throw new Error(`expected ${width * height} greyscale pixels, got ${grey.length}`);
  let sum = 0;
  let sumOfSquares = 0;
  let count = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const at = y * width + x;
      const centre = grey[at] as number;
      const laplacian =
        4 * centre - (grey[at - 1] as number) - (grey[at + 1] as number) - (grey[at - width] as number) - (grey[at + width] as number);
      sum += laplacian;
      sumOfSquares += laplacian * laplacian;
      count++;
    }
  }
  if (count === 0) return 0;
  const mean = sum / count;
  const deviation = Math.sqrt(Math.max(0, sumOfSquares / count - mean * mean));
  return Math.min(100, (100 * deviation) / laplacianDeviationForFullSharpness);
}

/** Brightness from 0 (black) to 100 (white): the mean grey level. */
export function brightnessOf(grey: Uint8Array): number {
  if (grey.length === 0) return 0;
  let sum = 0;
  for (const value of grey) sum += value;
  return (100 * sum) / grey.length / 255;
}
