// The health-processing process: run with `node --import @trustmesh/runtime/telemetry src/main.ts`
// so tracing is set up before anything else is imported.
import { runServiceMain } from "@trustmesh/runtime";
import { healthProcessingDefinition } from "./routes.ts";

await runServiceMain(healthProcessingDefinition);
