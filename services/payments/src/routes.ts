// What the payments process serves.
import { PaymentsService } from "@trustmesh/api";
import { registration, type ServiceDefinition } from "@trustmesh/runtime";
import { paymentsConfigShape } from "./config.ts";

export const paymentsDefinition: ServiceDefinition<typeof paymentsConfigShape> = {
  name: "payments",
  configShape: paymentsConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  // No handler yet: Connect answers UNIMPLEMENTED for every PaymentsService RPC
  // until issue #5 lands them. Authentication, authorization and
  // validation still run first, so callers already get the real errors for those.
  createServices: () => [registration(PaymentsService, {})],
};
