// Goal: the ledger's own variables are read with their defaults, bounds are
// enforced with a message naming the variable, and scheduled reconciliation
// can be switched off with 0 but not set to a busy loop.
import assert from "node:assert/strict";
import { baseConfigShape, ConfigError, loadConfig } from "@trustmesh/runtime";
import { ledgerConfigShape } from "../src/config.ts";

const base = { DATABASE_URL: "postgres://localhost/ledger", REDIS_URL: "redis://localhost", AUTH_GRPC_URL: "http://localhost:50051" };
const load = (env: Record<string, string>) => loadConfig({ ...baseConfigShape, ...ledgerConfigShape }, { ...base, ...env });

describe("ledger configuration", () => {
  it("has bounded defaults", () => {
    const config = load({});
    assert.equal(config.LEDGER_BATCH_SIZE_MAX, 1000);
    assert.equal(config.LEDGER_BATCHES_IN_FLIGHT, 2);
    assert.equal(config.LEDGER_PIPELINE_OPERATIONS_MIN, 64);
    assert.equal(config.LEDGER_RECONCILE_INTERVAL_MS, 900_000);
    assert.equal(config.LEDGER_PENDING_SWEEP_INTERVAL_MS, 1000);
  });

  it("turns scheduled reconciliation off with 0 and refuses intervals under a second", () => {
    assert.equal(load({ LEDGER_RECONCILE_INTERVAL_MS: "0" }).LEDGER_RECONCILE_INTERVAL_MS, 0);
    assert.equal(load({ LEDGER_RECONCILE_INTERVAL_MS: "1000" }).LEDGER_RECONCILE_INTERVAL_MS, 1000);
    assert.throws(
      () => load({ LEDGER_RECONCILE_INTERVAL_MS: "10" }),
      (error: ConfigError) => error.variables.includes("LEDGER_RECONCILE_INTERVAL_MS"),
    );
  });

  it("names the variable that is out of bounds", () => {
    for (const [variable, value] of [
      ["LEDGER_BATCH_SIZE_MAX", "0"],
      ["LEDGER_BATCH_SIZE_MAX", "5001"],
      ["LEDGER_BATCHES_IN_FLIGHT", "9"],
      ["LEDGER_PIPELINE_OPERATIONS_MIN", "0"],
      ["LEDGER_WRITE_QUEUE_MAX", "-1"],
      ["LEDGER_PENDING_SWEEP_INTERVAL_MS", "1"],
      ["LEDGER_CHAIN_VERIFY_MAX", "many"],
    ] as const) {
      assert.throws(
        () => load({ [variable]: value }),
        (error: ConfigError) => error instanceof ConfigError && error.variables.includes(variable),
      );
    }
  });
});
