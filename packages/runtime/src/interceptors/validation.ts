// Request validation against the protovalidate rules in the contracts, through
// @connectrpc/validate. Its error carries buf.validate.Violations; we add the
// standard google.rpc.BadRequest and ErrorInfo next to it, so clients that know
// only the gRPC error model still see which field was wrong.

import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, ValidationError } from "@bufbuild/protovalidate";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { createValidateInterceptor } from "@connectrpc/validate";
import { badRequestDetail, errorInfoDetail, type OutgoingDetails } from "../error-details.ts";
import { createPatternMatcher } from "./pattern-matcher.ts";

function withStandardDetails(error: unknown, domain: string): unknown {
  if (!(error instanceof ConnectError) || !(error.cause instanceof ValidationError)) return error;
  const violations = error.cause.violations.map((violation) => ({
    field: pathToString(violation.field),
    description: violation.message,
    reason: violation.ruleId,
  }));
  // The validate interceptor's own detail (buf.validate.Violations) is outgoing too.
  const details = [...(error.details as OutgoingDetails), badRequestDetail(violations), errorInfoDetail("INVALID_ARGUMENT", domain)];
  return new ConnectError(error.rawMessage, error.code, error.metadata, details, error.cause);
}

export function createValidationInterceptor(options: { domain: string }): Interceptor {
  const validate = createValidateInterceptor({ validator: createValidator({ regexMatch: createPatternMatcher() }) });
  return (next) => {
    const validated = validate(next);
    const decorate = (error: unknown) => Promise.reject(withStandardDetails(error, options.domain));
    return (request) => {
      // A streaming request is validated as its messages are read, inside next.
      if (request.stream) return validated(request).catch(decorate);
      try {
        // A unary request is validated, and refused by a throw, before next is called.
        return validated(request);
      } catch (error) {
        return decorate(error);
      }
    };
  };
}
