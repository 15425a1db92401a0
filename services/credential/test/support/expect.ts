// Assertions on RPC errors.
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";

/** The call fails with `code`; its message matches `message`; `field`, when given, is named in a BadRequest violation or the message. */
export async function rejectsWith(
  call: Promise<unknown>,
  code: Code,
  expected: { message?: RegExp; field?: string; reason?: string } = {},
) {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ConnectError, `not a ConnectError: ${String(error)}`);
    assert.equal(Code[error.code], Code[code], error.message);
    if (expected.message) assert.match(error.message, expected.message);
    if (expected.field) {
      const fields = error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations.map((violation) => violation.field));
      assert.ok(fields.includes(expected.field) || error.message.includes(expected.field), `${expected.field} not named: ${error.message}`);
    }
    if (expected.reason) assert.equal(error.findDetails(ErrorInfoSchema)[0]?.reason, expected.reason);
    return true;
  });
}
