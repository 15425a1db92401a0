// Job changes announced over Redis pub/sub (the runtime's change notices), so
// WatchJob streams on any replica hear what a worker on another one did.
import { type ChangeNotices, createChangeNotices, type Logger } from "@trustmesh/runtime";
import type { Redis } from "ioredis";

export type JobEvents = ChangeNotices;

export function createJobEvents(redis: Redis, logger: Logger): JobEvents {
  return createChangeNotices(redis, logger, { channelPrefix: "healthprocessing:job:", name: "job-events" });
}
