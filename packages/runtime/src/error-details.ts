// google.rpc error details attached to every error Trustmesh returns, so
// clients in any language can act on a stable reason and on field violations.

import type { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "@trustmesh/api/google/rpc/error_details_pb.js";
import type { FieldViolation } from "./errors.ts";

/** The detail list ConnectError's constructor accepts. */
export type OutgoingDetails = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;
export type OutgoingDetail = OutgoingDetails[number];

export function errorInfoDetail(reason: string, domain: string, metadata: Record<string, string> = {}): OutgoingDetail {
  return { desc: ErrorInfoSchema, value: { reason, domain, metadata } };
}

export function badRequestDetail(violations: readonly FieldViolation[]): OutgoingDetail {
  return {
    desc: BadRequestSchema,
    value: {
      fieldViolations: violations.map((violation) => ({
        field: violation.field,
        description: violation.description,
        reason: violation.reason ?? "",
      })),
    },
  };
}
