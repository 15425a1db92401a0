// Goal: the lazy request headers of a gRPC call answer exactly as a Headers
// filled from the metadata would, before and after they are filled.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { MetadataHeaders } from "../src/server/metadata-headers.ts";

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
    const headers = new MetadataHeaders(metadata(), "250m");
    assert.equal(headers.get("Authorization"), "Bearer abc.def.ghi");
    assert.equal(headers.get("x-multi"), "one, two");
    assert.equal(headers.get("trace-bin"), "AQID");
    assert.equal(headers.get("grpc-timeout"), "250m");
    assert.equal(headers.get("missing"), null);
    assert.equal(headers.has("x-multi"), true);
  });

  it("fills itself before any change or iteration, keeping every value", () => {
    const headers = new MetadataHeaders(metadata(), undefined);
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
    const headers = new MetadataHeaders(metadata(), "250m");
    const seen: [string, string][] = [];
    headers.forEach((value, key, parent) => {
      assert.equal(parent, headers, "forEach passes the headers themselves as parent");
      seen.push([key, value]);
    });
    assert.deepEqual(seen, [...headers]);
    assert.deepEqual(Object.fromEntries(new Headers(headers)), Object.fromEntries(headers.entries()));
    assert.equal(new Headers(headers).get("grpc-timeout"), "250m");
    assert.equal(Object.prototype.toString.call(headers), "[object Headers]");
  });
});
