// Goal: the lazy request headers of a gRPC call answer exactly as a Headers
// filled from the metadata would, before and after they are filled, with the
// grpc-timeout grpc-js consumed restored from the call's deadline (whole
// milliseconds left, at least 1) and absent when the call has none.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { MetadataHeaders } from "../src/server/metadata-headers.ts";

/** A grpc-timeout of 250 ms read a moment after the call began: 250m, or a little less. */
const about250Ms = /^2[34]\dm$|^250m$/;

function metadata(): grpc.Metadata {
  const result = new grpc.Metadata();
  result.add("authorization", "Bearer abc.def.ghi");
  result.add("x-multi", "one");
  result.add("x-multi", "two");
  result.add("trace-bin", Buffer.from([1, 2, 3]));
  return result;
}

describe("MetadataHeaders", () => {
  it("reads values, binary values and the restored grpc-timeout without filling", () => {
    const headers = new MetadataHeaders(metadata(), Date.now() + 250);
    assert.equal(headers.get("Authorization"), "Bearer abc.def.ghi");
    assert.equal(headers.get("x-multi"), "one, two");
    assert.equal(headers.get("trace-bin"), "AQID");
    assert.match(headers.get("grpc-timeout") ?? "", about250Ms);
    assert.equal(headers.get("missing"), null);
    assert.equal(headers.has("x-multi"), true);
  });

  it("fills itself before any change or iteration, keeping every value", () => {
    const headers = new MetadataHeaders(metadata(), Number.POSITIVE_INFINITY);
    headers.set("x-added", "yes");
    assert.deepEqual(Object.fromEntries(headers.entries()), {
      authorization: "Bearer abc.def.ghi",
      "trace-bin": "AQID",
      "x-added": "yes",
      "x-multi": "one, two",
    });
    assert.equal(headers.get("x-added"), "yes");
    assert.equal(headers.get("grpc-timeout"), null);
  });

  it("behaves as a Headers for code that copies or iterates it", () => {
    const headers = new MetadataHeaders(metadata(), Date.now() + 250);
    const seen: [string, string][] = [];
    headers.forEach((value, key, parent) => {
      assert.equal(parent, headers, "forEach passes the headers themselves as parent");
      seen.push([key, value]);
    });
    assert.deepEqual(seen, [...headers]);
    assert.deepEqual(Object.fromEntries(new Headers(headers)), Object.fromEntries(headers.entries()));
    assert.match(new Headers(headers).get("grpc-timeout") ?? "", about250Ms);
    assert.equal(Object.prototype.toString.call(headers), "[object Headers]");
  });

  it("says 1 ms, not 0 or less, for a deadline that has already passed", () => {
    assert.equal(new MetadataHeaders(new grpc.Metadata(), Date.now() - 50).get("grpc-timeout"), "1m");
  });
});
