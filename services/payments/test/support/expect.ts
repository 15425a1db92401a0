// Assertions shared by the handler tests.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";

/** Asserts a ConnectError's code, message and (when given) ErrorInfo reason. */
export function rejectsWith(code: Code, message?: RegExp, reason?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(Code[error.code], Code[code], error.message);
    if (message) assert.match(error.message, message);
    if (reason) assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, reason);
    return true;
  };
}
