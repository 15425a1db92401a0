// The `node` command line of every service process: the npm start scripts, the
// test kit, the services' own test harnesses and the container entrypoint all
// start a service this way (a test in test/node-arguments.test.ts holds them
// to it). Everything a process can set for itself is set by the preload
// instead (./v8-flags.ts, ./buffer-pool.ts); this is what it cannot.
//
// --v8-pool-size=0: V8's worker threads (parallel scavenges, concurrent
// marking and sweeping, background compilation) number one fewer than the
// CPUs the process may run on, at least one, as Node sizes them when given 0.
// Node's default is four whatever the machine. On a 2-CPU machine shared with
// PostgreSQL and the callers, four workers woken at every young collection and
// through every full collection's marking compete with the service's own
// thread; with one (and the heap growth pinned, ./v8-flags.ts) the ledger's
// p99 over 30 s at 3,000 transfers/s was 28-40 ms instead of 67-91 ms, around
// full collections of the same length (services/ledger/README.md, "Session 12").

/** V8's worker threads sized to the machine, as above. */
export const serviceV8PoolArgument = "--v8-pool-size=0";

/** Arguments to `node` before the service's main module. */
export const serviceNodeArguments = [serviceV8PoolArgument, "--import", "@trustmesh/runtime/telemetry"] as const;
