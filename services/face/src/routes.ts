// What the face process serves.
import { FaceService } from "@trustmesh/api";
import { registration, type ServiceDefinition } from "@trustmesh/runtime";
import { faceConfigShape } from "./config.ts";

export const faceDefinition: ServiceDefinition<typeof faceConfigShape> = {
  name: "face",
  configShape: faceConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  // No handler yet: Connect answers UNIMPLEMENTED for every FaceService RPC
  // until issue #9 lands them. Authentication, authorization and
  // validation still run first, so callers already get the real errors for those.
  createServices: () => [registration(FaceService, {})],
};
