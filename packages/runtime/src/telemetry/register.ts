// Loaded with `node --import @trustmesh/runtime/telemetry`, before the service's
// own modules, so the pg and ioredis instrumentations can hook those modules
// when they are first imported (ESM imports need the loader hook registered
// here; CommonJS requires are hooked by the SDK itself).
import { register } from "node:module";
import { startTelemetry } from "./sdk.ts";

register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
startTelemetry();
