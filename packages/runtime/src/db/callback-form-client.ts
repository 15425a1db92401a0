// A pg Client whose promise-form queries run through pg's callback form, for
// the pools services query on every request (`new pg.Pool({ Client })`).
//
// Why: under load, every query issued in pg's own promise form stayed
// reachable until the next full garbage collection, with its parameters and
// its result rows, where the same query in the callback form died in the
// young generation. In the ledger at 3,000 transfers/s that one difference
// took what each young collection promoted from about 1.9 MB to 0.5 MB, and
// with it the full collections (40-55 ms pauses) that set the latency tail
// (services/ledger/README.md, "Session 15"). A bare pg client showed it too:
// pg's shape — the Query held in the function context that creates the
// promise's resolving callback — was kept; a promise made around the callback
// form, as here, was not. Which old object V8 found it through was not
// identified.
//
// Everything else is pg's: the query is submitted synchronously (so pipeline
// mode keeps its order), the instrumented Client.prototype.query still runs
// (OpenTelemetry's pg spans are unchanged), a config that brings its own
// callback is pg's callback form, and a failed query's stack leads back to
// the caller's awaits, as pg's promise form makes it.
import pg from "pg";

const isCallback = (value: unknown) => typeof value === "function";
const hasMethod = (value: unknown, name: "submit" | "callback") =>
  isCallback((value as Record<string, unknown> | null | undefined)?.[name]);

export class CallbackFormClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's overloads answer a promise, nothing or the submittable; this keeps them all.
  override query(config: any, values?: any, callback?: any): any {
    if (isCallback(values) || isCallback(callback) || hasMethod(config, "callback") || hasMethod(config, "submit")) {
      return super.query(config, values, callback);
    }
    return new Promise((resolve, reject) => {
      super.query(config, values, (error: Error | null, result: unknown) => (error ? reject(error) : resolve(result)));
    }).catch((error: Error) => {
      Error.captureStackTrace(error);
      throw error;
    });
  }
}
