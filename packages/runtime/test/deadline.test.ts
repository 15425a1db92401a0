// Goal: the deadline interceptor ends every call that outlives its deadline,
// exactly once, and never a call already answered, however calls come and go
// around each other: the calls in flight sit in an array where leaving moves
// another call into the freed slot, also while a sweep is ending calls.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createContextValues, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { type EndableCall, endableCallKey } from "../src/call-scope.ts";
import { createDeadlineInterceptor, deadlineSweepMs } from "../src/interceptors/deadline.ts";

/** A transport call as the grpc-js adapter gives it: endable, with the caller's timeout. */
class FakeCall implements EndableCall {
  watcher: EndableCall["watcher"];
  readonly endings: unknown[] = [];
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  callerTimeoutMs(): number {
    return this.#timeoutMs;
  }

  end(error: unknown): void {
    this.endings.push(error);
  }

  /** What the transport does once the caller has its answer. */
  answer(): void {
    this.watcher?.answered();
  }
}

const interceptor = createDeadlineInterceptor({ defaultTimeoutMs: 60_000, maxTimeoutMs: 60_000 });
// The handler never answers by itself: each test answers through the fake call.
const handler = interceptor(() => new Promise<UnaryResponse>(() => {}));

function start(timeoutMs: number): FakeCall {
  const call = new FakeCall(timeoutMs);
  const request = {
    stream: false,
    header: new Headers(),
    signal: new AbortController().signal,
    contextValues: createContextValues().set(endableCallKey, call),
  } as unknown as UnaryRequest;
  void handler(request);
  return call;
}

function assertEndedByDeadline(call: FakeCall, label: string): void {
  assert.equal(call.endings.length, 1, `${label} was ended once`);
  assert.equal(ConnectError.from(call.endings[0]).code, Code.DeadlineExceeded, `${label} ended with DEADLINE_EXCEEDED`);
}

describe("deadline interceptor: the calls it watches", () => {
  it("ends each overdue call once and leaves answered and unexpired calls alone", async () => {
    // Short and long deadlines interleaved, so overdue calls sit between ones that stay.
    const calls = [30, 60_000, 30, 60_000, 30, 60_000, 30].map(start);
    // Answered before its deadline: a later sweep must not end it.
    const answeredEarly = start(30);
    answeredEarly.answer();
    await sleep(30 + 5 * deadlineSweepMs);
    calls.forEach((call, index) => {
      if (call.callerTimeoutMs() === 30) assertEndedByDeadline(call, `call ${index}`);
      else assert.deepEqual(call.endings, [], `call ${index} still has time`);
    });
    assert.deepEqual(answeredEarly.endings, [], "an answered call is not ended");
    for (const call of calls) call.answer();
  });

  it("keeps watching the calls that stay when others leave in any order", async () => {
    const calls = Array.from({ length: 12 }, (_, index) => start(index % 3 === 0 ? 40 : 60_000));
    // Leave from the middle, the end and the start, each moving another call into the freed slot.
    for (const index of [5, 11, 1, 7, 2]) calls[index]?.answer();
    await sleep(40 + 5 * deadlineSweepMs);
    calls.forEach((call, index) => {
      if (index % 3 === 0) assertEndedByDeadline(call, `call ${index}`);
      else assert.deepEqual(call.endings, [], `call ${index} was answered or still has time`);
    });
    // The calls still waiting, now answered, are not ended once their deadline would have passed.
    for (const call of calls) call.answer();
    const late = start(20);
    late.answer();
    await sleep(20 + 5 * deadlineSweepMs);
    assert.deepEqual(late.endings, []);
  });
});
