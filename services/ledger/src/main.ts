// The ledger process: run with `node --import @trustmesh/runtime/telemetry src/main.ts`
// so tracing is set up before anything else is imported.
import { runServiceMain } from "@trustmesh/runtime";
import { ledgerDefinition } from "./routes.ts";

await runServiceMain(ledgerDefinition);
