// An inference worker thread (run by Piscina). It loads and warms the models
// once, before it takes its first task, and then analyses one image at a time.
import { parentPort, workerData } from "node:worker_threads";
import sharp from "sharp";
import { loadFaceModel } from "./face-model.ts";
import type { FaceModelOptions, InferenceResult, InferenceTask, WorkerWarmMessage } from "./types.ts";

// One worker is one core's worth of work: libvips must not start threads of its
// own beside it, and must not hold decoded images between unrelated requests.
sharp.concurrency(1);
sharp.cache(false);

const model = await loadFaceModel(workerData as FaceModelOptions);
const warmUpMs = await model.warmUp();
parentPort?.postMessage({ kind: "face-worker-warm", modelVersion: model.version, warmUpMs } satisfies WorkerWarmMessage);

export default function analyse(task: InferenceTask): Promise<InferenceResult> {
  return model.analyse(task);
}
