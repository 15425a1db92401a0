// What the credential process serves.
import { CredentialService } from "@trustmesh/api";
import { registration, type ServiceDefinition } from "@trustmesh/runtime";
import { credentialConfigShape } from "./config.ts";

export const credentialDefinition: ServiceDefinition<typeof credentialConfigShape> = {
  name: "credential",
  configShape: credentialConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  // No handler yet: Connect answers UNIMPLEMENTED for every CredentialService RPC
  // until issue #7 lands them. Authentication, authorization and
  // validation still run first, so callers already get the real errors for those.
  createServices: () => [registration(CredentialService, {})],
};
