// Test images derived from the sample photos @vladmandic/face-api ships (group
// photos of three to five people): single faces cut out of them, the same face
// as a different capture would show it (another crop, scale, compression or
// format), a whole group photo, and a part of a photo with no face. Face boxes
// are the ones the service's model finds (scripts/calibrate-similarity.ts
// prints them), in source pixels.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import sharp from "sharp";

const require = createRequire(import.meta.url);
const demoDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "demo");

export interface Person {
  photo: string;
  /** left, top, width, height of the face in the photo. */
  box: readonly [number, number, number, number];
}

/** Different people, each looking roughly at the camera. */
export const people = {
  ada: { photo: "sample1.jpg", box: [334, 316, 352, 352] },
  bea: { photo: "sample1.jpg", box: [1438, 205, 279, 279] },
  cleo: { photo: "sample3.jpg", box: [1005, 187, 367, 367] },
  dana: { photo: "sample6.jpg", box: [587, 300, 384, 384] },
  eve: { photo: "sample4.jpg", box: [1216, 134, 305, 305] },
} as const satisfies Record<string, Person>;

export type PersonName = keyof typeof people;

/**
 * How a capture of the face was made:
 *   reference    a tight crop, JPEG quality 92 — what an enrolment selfie looks like;
 *   recompressed a wider crop, shifted, scaled to 60% and saved at JPEG quality 40;
 *   png          a crop shifted the other way, saved as PNG;
 *   small        the face 96 px across, JPEG quality 60.
 */
export type Capture = "reference" | "recompressed" | "png" | "small";

const photos = new Map<string, Promise<Buffer>>();

export function samplePhoto(name: string): Promise<Buffer> {
  let photo = photos.get(name);
  if (!photo) {
    photo = readFile(join(demoDir, name));
    photos.set(name, photo);
  }
  return photo;
}

async function crop(person: Person, margin: number, shiftX: number, shiftY: number) {
  const photo = await samplePhoto(person.photo);
  const { width = 0, height = 0 } = await sharp(photo).metadata();
  const [left, top, faceWidth, faceHeight] = person.box;
  const side = Math.max(faceWidth, faceHeight) * (1 + 2 * margin);
  const x = Math.max(0, Math.round(left + faceWidth / 2 + shiftX * faceWidth - side / 2));
  const y = Math.max(0, Math.round(top + faceHeight / 2 + shiftY * faceHeight - side / 2));
  return sharp(photo).extract({
    left: x,
    top: y,
    width: Math.min(width - x, Math.round(side)),
    height: Math.min(height - y, Math.round(side)),
  });
}

export async function portrait(name: PersonName, capture: Capture = "reference"): Promise<Buffer> {
  const person: Person = people[name];
  const faceSize = Math.max(person.box[2], person.box[3]);
  switch (capture) {
    case "reference":
      return (await crop(person, 0.3, 0, 0)).jpeg({ quality: 92 }).toBuffer();
    case "recompressed":
      return (await crop(person, 0.5, 0.1, 0.08))
        .resize({ width: Math.round(faceSize * 2 * 0.6) })
        .jpeg({ quality: 40 })
        .toBuffer();
    case "png":
      return (await crop(person, 0.4, -0.08, -0.05)).png().toBuffer();
    case "small":
      return (await crop(person, 0.35, 0, 0))
        .resize({ width: Math.round(96 * 1.7) })
        .jpeg({ quality: 60 })
        .toBuffer();
  }
}

/** sample1.jpg whole: three people. */
export function groupPhoto(): Promise<Buffer> {
  return samplePhoto("sample1.jpg");
}

/** The top-left corner of sample3.jpg: a door and a window, no face. */
export async function photoWithoutFace(): Promise<Buffer> {
  return sharp(await samplePhoto("sample3.jpg"))
    .extract({ left: 0, top: 0, width: 600, height: 500 })
    .jpeg({ quality: 90 })
    .toBuffer();
}
