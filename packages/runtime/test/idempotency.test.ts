// Goal: idempotency keys are told apart per caller and per request. A user and
// a service, or two users, get different scopes; equal requests hash equal
// (protobuf-es writes binary deterministically) and any changed field changes
// the hash, so a replay is recognised and a different request is not.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { EchoRequestSchema } from "@trustmesh/api/trustmesh/testing/v1/echo_service_pb.js";
import { idempotencyScopeOf, requestHashOf } from "../src/idempotency.ts";

describe("idempotency", () => {
  it("scopes keys to the calling user or service", () => {
    assert.equal(idempotencyScopeOf({ kind: "user", userId: "u-1", roles: [] }), "user:u-1");
    assert.equal(idempotencyScopeOf({ kind: "service", serviceName: "auth", scopes: new Set() }), "service:auth");
    assert.notEqual(
      idempotencyScopeOf({ kind: "user", userId: "auth", roles: [] }),
      idempotencyScopeOf({ kind: "service", serviceName: "auth", scopes: new Set() }),
    );
  });

  it("hashes equal requests equally and different requests differently", () => {
    const request = (message: string) => create(EchoRequestSchema, { message, behaviour: "echo" });
    const first = requestHashOf(EchoRequestSchema, request("u-1"));
    assert.equal(first.byteLength, 32);
    assert.deepEqual(requestHashOf(EchoRequestSchema, request("u-1")), first);
    assert.notDeepEqual(requestHashOf(EchoRequestSchema, request("u-2")), first);
  });
});
