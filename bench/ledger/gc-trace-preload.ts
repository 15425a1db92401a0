// Preload for `bench/ledger/profile.ts --gc-trace`: V8 prints one line per
// garbage collection with the time of each of its phases (--trace-gc-nvp),
// and this prints the wall-clock instant those lines count their milliseconds
// from, so that bench/ledger/gc-trace.ts can place each collection on the
// window's timeline. V8 counts from the isolate's start; Node's timeOrigin is
// taken a moment before it, which is close enough for whole seconds.
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--trace-gc-nvp");
console.log(`gc-trace-origin-ms ${performance.timeOrigin}`);
