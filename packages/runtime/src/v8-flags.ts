// V8 settings every service process runs with, set by the preload
// (`node --import @trustmesh/runtime/telemetry`) before any service module
// loads. Node accepts few V8 flags in NODE_OPTIONS, and a service is started
// from several places (npm scripts, the test kit, the container entrypoint),
// so the process sets them itself rather than every launcher repeating them.
//
// --no-allocation-site-pretenuring: V8 watches how many objects from each
// allocation site survive a young collection and, past a threshold, allocates
// that site's objects straight in the old generation. Under gRPC load it makes
// that decision, in some runs and not others, for sites of grpc-js's and
// node:http2's per-call objects (README, "The runtime"). Such objects die in
// the old generation, which only a full collection sweeps; until then every
// young collection keeps what they point to, the rest of their call, alive.
// Every call's stream and grpc-js call objects were then copied and promoted,
// though a heap snapshot (taken after a full collection) shows nothing live
// holding a finished call. The runtime's echo server at a fixed 2,000 calls/s
// (`--trace-gc-nvp`) promoted 11–12% of what it allocated, in scavenges of
// 15–19 ms; with pretenuring off 2.4%, in scavenges of 4.5–5.6 ms, and
// bench/rpc's runtime rounds rose from 14.1–17.7k to 17.0–20.4k req/s
// (README, "Benchmarks").
//
// --heap-growing-percent=150: after each full collection V8 lets the old
// generation grow to a multiple of what survived before the next one starts,
// a multiple it picks from how fast collections have been.
// Under steady load the ledger's first full collections came every ~6 s at
// 140-160 MB; V8 then raised its limit to 320-360 MB, and the next came 17-21 s
// later with a pause of 70-99 ms (7 of 10 runs of 30 s at 3,000 transfers/s),
// because part of that pause grows with the calls served since the previous
// one (Node hands each call's authorization header to V8 as an external
// string; the ledger's external memory grew by about one token per call until
// a full collection, which walks them all). At a fixed 2.5 they came every
// 9-10 s at 160-250 MB with pauses of 24-48 ms, in 7 runs of 7
// (services/ledger/README.md, "Session 12"), and the heap stays smaller.
import { setFlagsFromString } from "node:v8";

/** The flags, as `node` takes them on its command line (bench/rpc gives them to bare grpc-js too). */
export const serviceV8Flags = ["--no-allocation-site-pretenuring", "--heap-growing-percent=150"] as const;

/** Sets serviceV8Flags in this process; the earlier, the fewer decisions V8 made without them. */
export function applyServiceV8Flags(): void {
  for (const flag of serviceV8Flags) setFlagsFromString(flag);
}
