// How busy the whole machine was, from /proc/stat, so a measurement disturbed
// by other work (a test suite, a build) is flagged instead of recorded as if
// the server had the core to itself.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc times; 100 on every Linux configuration Node supports. */
export const clockTicksPerSecond = 100;

/** CPU milliseconds all CPUs spent busy (not idle or waiting on I/O) since boot. */
export function machineBusyCpuMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busyTicks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return (busyTicks * 1000) / clockTicksPerSecond;
}
