// Loaded with `node --import @trustmesh/runtime/telemetry`, before the service's
// own modules, so the pg and ioredis instrumentations can hook those modules
// when they are first imported (ESM imports need the loader hook registered
// here; CommonJS requires are hooked by the SDK itself).
//
// It first sets the V8 flags every service runs with (../v8-flags.ts) and
// turns Node's Buffer pool off (../buffer-pool.ts). The SDK is imported only
// after that: a static import would load its hundreds of modules, and let V8
// make allocation-site decisions, before any code here ran.
import { register } from "node:module";
import { applyServiceBufferPool } from "../buffer-pool.ts";
import { applyServiceV8Flags } from "../v8-flags.ts";

applyServiceV8Flags();
applyServiceBufferPool();
register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
const { startTelemetry } = await import("./sdk.ts");
startTelemetry();
