// bench/ledger/process-cpu.ts reads /proc: a process's CPU and its main
// thread's time on a CPU and waiting for one. These tests spend known CPU
// in this process and read it back.
import assert from "node:assert/strict";
import { mainThreadScheduleMs, processCpuMs } from "../ledger/process-cpu.ts";

/** Keeps this thread busy for `ms` of wall-clock time. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose.
  }
}

describe("bench/ledger/process-cpu", () => {
  it("reads the CPU this process spends", () => {
    const before = processCpuMs(process.pid);
    const schedule = mainThreadScheduleMs(process.pid);
    spin(400);
    const used = processCpuMs(process.pid) - before;
    const after = mainThreadScheduleMs(process.pid);
    const running = after.runningMs - schedule.runningMs;
    const waiting = after.waitingMs - schedule.waitingMs;
    // Running plus waiting for a CPU covers the wall-clock time spun, whatever else the machine does.
    assert.ok(running + waiting >= 390, `running ${running} ms and waiting ${waiting} ms over 400 ms of spinning`);
    assert.ok(running <= 500 && used <= 1000, `running ${running} ms, process ${used} ms`);
    // /proc's process times count in clock ticks (10 ms), and other threads may add a little.
    assert.ok(used >= running - 20, `process ${used} ms against the main thread's ${running} ms`);
  });

  it("reads nothing for a process that is not there", () => {
    assert.equal(processCpuMs(2 ** 22 + 1), 0);
    const missing = mainThreadScheduleMs(2 ** 22 + 1);
    assert.ok(Number.isNaN(missing.runningMs) && Number.isNaN(missing.waitingMs));
  });
});
