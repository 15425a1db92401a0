// The face models, loaded once per worker thread: @vladmandic/human on the
// TensorFlow.js WebAssembly backend (tfjs-node would download libtensorflow,
// which this platform's builds cannot reach), with the models the package
// ships read from its own folder. Images are decoded and oriented with sharp.
// Everything here runs inside an inference worker, never on the event loop.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { io } from "@tensorflow/tfjs-core";
import type { Config, FaceResult, Human } from "@vladmandic/human";
import sharp from "sharp";
import { brightnessOf, faceSampleSizePx, sharpnessOf } from "./image-measures.ts";
import type { FaceModelOptions, InferenceResult, InferenceTask, MeasuredFace } from "./types.ts";

const require = createRequire(import.meta.url);

/** Longest side images are scaled down to before detection; the detector itself works on 256 px. */
const imageDimensionMax = 1920;
/** Decoding refuses images with more pixels than this (a 5 MB PNG can hold a decompression bomb). */
const imagePixelsMax = 40_000_000;

/** @vladmandic/human's similarity options: Euclidean distance, unnormalised (README: Similarity). */
const modelSimilarityOptions = { order: 2, multiplier: 25, min: 0, max: 1 };

export interface FaceModel {
  /** Name and version of the models, stored with every embedding and record. */
  readonly version: string;
  analyse(task: InferenceTask): Promise<InferenceResult>;
  /** human's similarity of two embeddings, 0 to 1 (what validation compares with). */
  compare(first: Float32Array, second: Float32Array): number;
  /** Every face's box in source pixels, for tools that cut single faces out of group photos. */
  locateFaces(image: Uint8Array): Promise<{ left: number; top: number; width: number; height: number }[]>;
  /** Runs the whole pipeline once on a photo the package ships, so the first request is not slow. */
  warmUp(): Promise<number>;
}

interface HumanModule {
  Human: new (config: Partial<Config>) => Human;
}

interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
  /** Source pixels per decoded pixel (the image may have been scaled down). */
  scale: number;
}

function humanPackage(): { module: HumanModule; packageDir: string } {
  // The package's "node" export is the tfjs-node build; its WebAssembly build
  // sits beside it. Its exports map names that file without "./", so Node
  // cannot resolve it by subpath: we load it by path instead.
  const nodeEntry = require.resolve("@vladmandic/human");
  const module = require(join(dirname(nodeEntry), "human.node-wasm.js")) as HumanModule;
  return { module, packageDir: dirname(dirname(nodeEntry)) };
}

const stillImage = { skipFrames: 0, skipTime: 0 };

function humanConfig(options: FaceModelOptions, modelBaseUrl: string, wasmDir: string): Partial<Config> {
  return {
    backend: "wasm",
    wasmPath: `${wasmDir}${sep}`,
    modelBasePath: modelBaseUrl,
    debug: false,
    // Human is made for video and reuses results between similar frames;
    // every image here is unrelated to the one before.
    cacheSensitivity: 0,
    cacheModels: false,
    warmup: "none",
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: {
        ...stillImage,
        rotation: false,
        maxDetected: options.facesDetectedMax,
        minConfidence: options.detectionConfidenceMin,
        return: false,
      },
      mesh: { enabled: true },
      iris: { enabled: false },
      attention: { enabled: false },
      description: { enabled: true, ...stillImage },
      emotion: { enabled: true, ...stillImage },
      antispoof: { enabled: true, ...stillImage },
      liveness: { enabled: true, ...stillImage },
      gear: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  } as Partial<Config>;
}

/**
 * TensorFlow.js reads file:// models only through tfjs-node. This load router
 * reads them from the package's models folder (and from nowhere else), so no
 * model ever comes from the network.
 */
function registerModelFolderLoader(human: Human, modelBaseUrl: string): void {
  const tf = human.tf;
  tf.io.registerLoadRouter((url: string | string[]) => {
    if (typeof url !== "string" || !url.startsWith(modelBaseUrl)) return null;
    return {
      async load() {
        const path = fileURLToPath(url);
        const modelJson = JSON.parse(await readFile(path, "utf8"));
        return tf.io.getModelArtifactsForJSON(modelJson, async (manifest: io.WeightsManifestConfig) => {
          const parts = await Promise.all(manifest.flatMap((group) => group.paths.map((part) => readFile(join(dirname(path), part)))));
          const weights = Buffer.concat(parts);
          const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
          return [manifest.flatMap((group) => group.weights), weightData];
        });
      },
    };
  });
}

async function decode(image: Uint8Array): Promise<DecodedImage> {
  const input = { limitInputPixels: imagePixelsMax, failOn: "warning" as const };
  const metadata = await sharp(image, input).metadata();
  const { data, info } = await sharp(image, input)
    .autoOrient()
    .resize({ width: imageDimensionMax, height: imageDimensionMax, fit: "inside", withoutEnlargement: true })
    .removeAlpha()
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
  return { pixels: data, width: info.width, height: info.height, scale: metadata.autoOrient.width / info.width };
}

function clampToImage(box: readonly [number, number, number, number], image: DecodedImage) {
  const left = Math.min(Math.max(0, Math.round(box[0])), image.width - 1);
  const top = Math.min(Math.max(0, Math.round(box[1])), image.height - 1);
  const right = Math.min(image.width, Math.max(left + 1, Math.round(box[0] + box[2])));
  const bottom = Math.min(image.height, Math.max(top + 1, Math.round(box[1] + box[3])));
  return { left, top, width: right - left, height: bottom - top };
}

/** Greyscale pixels of the face region, resized to the fixed measuring square. */
async function faceSample(image: DecodedImage, region: ReturnType<typeof clampToImage>): Promise<Uint8Array> {
  const grey = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract(region)
    .greyscale()
    .resize(faceSampleSizePx, faceSampleSizePx, { fit: "fill" })
    .extractChannel(0)
    .raw()
    .toBuffer();
  return new Uint8Array(grey.buffer, grey.byteOffset, grey.byteLength);
}

const degreesPerRadian = 180 / Math.PI;

function compareWith(human: Human, first: ArrayLike<number>, second: ArrayLike<number>): number {
  if (first.length !== second.length) throw new Error(`embeddings of ${first.length} and ${second.length} values are not comparable`);
  return human.match.similarity(Array.from(first), Array.from(second), modelSimilarityOptions);
}

async function measure(human: Human, face: FaceResult, image: DecodedImage, task: InferenceTask): Promise<MeasuredFace> {
  const region = clampToImage(face.box, image);
  const sample = await faceSample(image, region);
  const angle = face.rotation?.angle;
  const happy = face.emotion?.find((entry) => entry.emotion === "happy");
  const measured: MeasuredFace = {
    box: {
      left: region.left / image.width,
      top: region.top / image.height,
      width: region.width / image.width,
      height: region.height / image.height,
    },
    widthPx: Math.round(region.width * image.scale),
    heightPx: Math.round(region.height * image.scale),
    detectionConfidence: 100 * face.boxScore,
    pose: {
      yawDegrees: (angle?.yaw ?? 0) * degreesPerRadian,
      pitchDegrees: (angle?.pitch ?? 0) * degreesPerRadian,
      rollDegrees: (angle?.roll ?? 0) * degreesPerRadian,
    },
    sharpness: sharpnessOf(sample, faceSampleSizePx, faceSampleSizePx),
    brightness: brightnessOf(sample),
    antiSpoofScore: 100 * (face.real ?? 0),
    livenessScore: 100 * (face.live ?? 0),
  };
  if (face.age !== undefined && face.age > 0) measured.ageYears = face.age;
  if (face.gender === "female" || face.gender === "male") {
    measured.gender = face.gender;
    measured.genderConfidence = 100 * (face.genderScore ?? 0);
  }
  // The emotion model lists only emotions above its own floor, so a missing
  // "happy" among listed emotions means a score near 0.
  if (face.emotion !== undefined) measured.happiness = 100 * (happy?.score ?? 0);
  const embedding = face.embedding ?? [];
  if (embedding.length === 0) throw new Error("the description model returned no embedding");
  if (task.returnEmbedding) measured.embedding = Float32Array.from(embedding);
  if (task.referenceEmbedding) measured.modelSimilarity = compareWith(human, task.referenceEmbedding, embedding);
  return measured;
}

export async function loadFaceModel(options: FaceModelOptions): Promise<FaceModel> {
  const { module, packageDir } = humanPackage();
  const wasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
  const modelBaseUrl = `${pathToFileURL(join(packageDir, "models")).href}/`;
  const human = new module.Human(humanConfig(options, modelBaseUrl, wasmDir));
  registerModelFolderLoader(human, modelBaseUrl);
  await human.load();
  const tf = human.tf;
  if (tf.getBackend() !== "wasm") throw new Error(`TensorFlow.js runs on ${tf.getBackend()}, not wasm`);
  const version = `human-${human.version}/blazeface+facemesh+faceres+antispoof+liveness+emotion`;

  async function detect(image: DecodedImage): Promise<FaceResult[]> {
    const tensor = tf.tensor3d(image.pixels, [image.height, image.width, 3], "int32");
    try {
      return (await human.detect(tensor)).face;
    } finally {
      tf.dispose(tensor);
    }
  }

  async function analyse(task: InferenceTask): Promise<InferenceResult> {
    if (Date.now() > task.deadlineAtMs) return { kind: "expired" };
    const started = performance.now();
    let image: DecodedImage;
    try {
      image = await decode(task.image);
    } catch (error) {
      return { kind: "undecodable", reason: error instanceof Error ? error.message : String(error) };
    }
    const faces = await detect(image);
    const first = faces[0];
    const face = faces.length === 1 && first ? await measure(human, first, image, task) : undefined;
    return { kind: "analysed", facesDetected: faces.length, face, inferenceMs: performance.now() - started };
  }

  return {
    version,
    analyse,
    compare: (first, second) => compareWith(human, first, second),
    async locateFaces(photo) {
      const image = await decode(photo);
      return (await detect(image)).map((face) => {
        const region = clampToImage(face.box, image);
        const [left, top, width, height] = [region.left, region.top, region.width, region.height].map((value) =>
          Math.round(value * image.scale),
        );
        return { left: left ?? 0, top: top ?? 0, width: width ?? 0, height: height ?? 0 };
      });
    },
    async warmUp() {
      const started = performance.now();
      const photo = await readFile(join(packageDir, "assets", "samples.jpg"));
      const result = await analyse({ image: photo, returnEmbedding: false, deadlineAtMs: Number.POSITIVE_INFINITY });
      if (result.kind !== "analysed" || result.facesDetected === 0) throw new Error(`warm-up found no face in the package's sample photo`);
      return performance.now() - started;
    },
  };
}
