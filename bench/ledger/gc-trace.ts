// bench/ledger/gc-trace.ts: the ledger's full collections, read from V8's
// --trace-gc-nvp lines (bench/ledger/gc-trace-preload.ts turns them on), with
// the phases that make up their pause. Session 16 found the pause of a full
// collection at half of peak to be mostly two phases that grow with the time
// since the previous one: clearing the external string table (Node makes an
// external string of every HTTP/2 header value it receives that HPACK's
// static table does not hold, about seven per gRPC call) and V8's
// weak-reference jobs (services/ledger/README.md, "Session 16").

/** One mark-compact, its wall-clock start and the pause's main phases, in milliseconds. */
export interface FullCollection {
  atMs: number;
  pauseMs: number;
  phasesMs: Record<(typeof phaseNames)[number], number>;
}

/** The phases printed beside each collection: what the pause was spent on, and marking for comparison. */
export const phaseNames = [
  "clear.external_string_table",
  "clear.weak_references_trivial",
  "clear.weak_references_filter_non_trivial",
  "clear.join_filter_job",
  "evacuate",
  "mark",
] as const;

/** The full collections in a process's output lines, given the preload's origin line among them. */
export function fullCollections(lines: readonly string[]): FullCollection[] {
  const origin = lines.map((line) => /^gc-trace-origin-ms ([\d.]+)$/.exec(line)).find((match) => match !== null);
  if (origin === undefined) throw new Error("no gc-trace-origin-ms line: was the process started with bench/ledger/gc-trace-preload.ts?");
  const originMs = Number(origin[1]);
  const collections: FullCollection[] = [];
  for (const line of lines) {
    const header = /\s(\d+) ms: pause=([\d.]+) .*\bgc=mc\b/.exec(line);
    if (header === null) continue;
    // A field follows a space, or the digits of the one before it (V8 leaves the space out after clear.join_filter_job).
    const phase = (name: string) => Number(new RegExp(`[ \\d]${name.replaceAll(".", "\\.")}=([\\d.]+)`).exec(line)?.[1] ?? Number.NaN);
    collections.push({
      atMs: originMs + Number(header[1]),
      pauseMs: Number(header[2]),
      phasesMs: Object.fromEntries(phaseNames.map((name) => [name, phase(name)])) as FullCollection["phasesMs"],
    });
  }
  return collections;
}
