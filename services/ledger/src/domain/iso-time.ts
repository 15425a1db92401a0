// A batch stamps every transaction and entry with one Date, and the chain
// encoding and the batch write each spell it out per row: remembering the last
// conversion turns thousands of toISOString calls per batch into one.

let lastTime: Date | undefined;
let lastMs = Number.NaN;
let lastIso = "";

/** time.toISOString(), remembered for the last Date seen (checked by value too, since a Date can change). */
export function isoTime(time: Date): string {
  const ms = time.getTime();
  if (time !== lastTime || ms !== lastMs) {
    lastIso = time.toISOString();
    lastTime = time;
    lastMs = ms;
  }
  return lastIso;
}
