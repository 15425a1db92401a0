// Node's Buffer pool is off in every service process, set by the preload
// (`node --import @trustmesh/runtime/telemetry`) like the V8 flags
// (./v8-flags.ts).
//
// Node cuts every Buffer under half of Buffer.poolSize (Buffer.from,
// Buffer.allocUnsafe, and libraries' framing and hashing buffers) from one
// shared ArrayBuffer of that size, 64 KB in Node 24. One slice still reachable
// at a young collection, or kept there by a dead old-generation object, keeps
// the whole pool alive, and that memory is outside V8's heap: a scavenge does
// not free it, and when such external memory has grown by V8's margin, V8
// starts a full mark-compact ("external memory pressure" in
// --trace-incremental-marking). In the ledger at 3,000 transfers/s every
// mark-compact was started that way, one every 2.5–5 s, each making a second's
// p99 60–100 ms, and process.memoryUsage().arrayBuffers grew about 14 MB/s,
// falling only at mark-compacts. With no pool it stays at 4–9 MB, freed by
// scavenges; in 15 s profile runs the ledger process ran 3 mark-compacts
// instead of 5–6, at the same CPU per transfer.
//
// Without the pool a Buffer of 64 bytes or less lives inside V8's heap and a
// larger one has an allocation of its own, so a buffer kept alive keeps only
// itself. Buffer.poolSize is public and documented as modifiable.

/** Bytes of the shared Buffer pool in service processes: none. */
export const serviceBufferPoolSize = 0;

/** Sets Buffer.poolSize in this process; Node reads it at every small allocation. */
export function applyServiceBufferPool(): void {
  Buffer.poolSize = serviceBufferPoolSize;
}
