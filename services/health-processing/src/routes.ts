// What the health-processing process serves.
import { HealthProcessingService } from "@trustmesh/api";
import { registration, type ServiceDefinition } from "@trustmesh/runtime";
import { healthProcessingConfigShape } from "./config.ts";

export const healthProcessingDefinition: ServiceDefinition<typeof healthProcessingConfigShape> = {
  name: "health-processing",
  configShape: healthProcessingConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  // No handler yet: Connect answers UNIMPLEMENTED for every HealthProcessingService RPC
  // until issue #8 lands them. Authentication, authorization and
  // validation still run first, so callers already get the real errors for those.
  createServices: () => [registration(HealthProcessingService, {})],
};
