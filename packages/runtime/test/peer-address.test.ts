// Goal: the caller's IP is read from grpc-js's peer string in every form it
// takes (IPv4 and IPv6 with a port, an address alone, "unknown"), and a handler
// asking for it gets an IP address or "" — never a port or a made-up value.
import assert from "node:assert/strict";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { ipOfGrpcPeer, peerAddressKey, peerAddressOf } from "../src/context.ts";

describe("peer address", () => {
  it("takes the IP out of grpc-js's peer string", () => {
    assert.equal(ipOfGrpcPeer("127.0.0.1:50512"), "127.0.0.1");
    assert.equal(ipOfGrpcPeer("::1:50512"), "::1");
    assert.equal(ipOfGrpcPeer("::1:5000"), "::1");
    assert.equal(ipOfGrpcPeer("2001:db8::7:443"), "2001:db8::7");
    assert.equal(ipOfGrpcPeer("::ffff:10.1.2.3:443"), "::ffff:10.1.2.3");
    assert.equal(ipOfGrpcPeer("2001:db8::7"), "2001:db8::7");
    assert.equal(ipOfGrpcPeer("unknown"), "");
    assert.equal(ipOfGrpcPeer("unix:/tmp/socket"), "");
  });

  it("gives handlers an IP address or nothing", () => {
    const contextWith = (read?: () => string) => {
      const values = createContextValues();
      if (read) values.set(peerAddressKey, read);
      return { values } as HandlerContext;
    };
    assert.equal(peerAddressOf(contextWith(() => "192.0.2.1")), "192.0.2.1");
    assert.equal(peerAddressOf(contextWith(() => "not an address")), "");
    assert.equal(peerAddressOf(contextWith()), "");
  });
});
