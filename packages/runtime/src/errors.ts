// Typed domain errors. Handlers and domain code throw these; the error-mapping
// interceptor turns them into Connect errors with google.rpc details, so the
// mapping from "what went wrong" to "which status code" lives in one place.
import { Code } from "@connectrpc/connect";

/** One wrong request field, as it appears in google.rpc.BadRequest. */
export interface FieldViolation {
  /** Path to the field in the request, e.g. "amount.amount_minor". */
  field: string;
  description: string;
  reason?: string;
}

export interface DomainErrorInit {
  /** Stable UPPER_SNAKE_CASE reason, sent as google.rpc.ErrorInfo.reason. */
  reason: string;
  metadata?: Record<string, string>;
  violations?: FieldViolation[];
  cause?: unknown;
}

/** An error whose code and reason are safe to show the caller. */
export class DomainError extends Error {
  readonly code: Code;
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly violations: FieldViolation[];

  constructor(code: Code, message: string, init: DomainErrorInit) {
    super(message, { cause: init.cause });
    this.name = "DomainError";
    this.code = code;
    this.reason = init.reason;
    this.metadata = init.metadata ?? {};
    this.violations = init.violations ?? [];
  }
}

/** A request field is wrong in a way protovalidate rules cannot express. */
export function invalidArgument(field: string, description: string, reason = "INVALID_FIELD"): DomainError {
  return new DomainError(Code.InvalidArgument, `${field}: ${description}`, {
    reason,
    violations: [{ field, description, reason }],
  });
}

export function notFound(what: string, id: string): DomainError {
  // The id is echoed so callers can tell which of several lookups failed.
  return new DomainError(Code.NotFound, `${what} ${id} not found`, { reason: "NOT_FOUND", metadata: { id } });
}

export function alreadyExists(message: string, reason = "ALREADY_EXISTS"): DomainError {
  return new DomainError(Code.AlreadyExists, message, { reason });
}

export function failedPrecondition(message: string, reason: string, metadata?: Record<string, string>): DomainError {
  return new DomainError(Code.FailedPrecondition, message, { reason, metadata });
}

export function permissionDenied(message = "permission denied", reason = "PERMISSION_DENIED"): DomainError {
  return new DomainError(Code.PermissionDenied, message, { reason });
}

export function unauthenticated(message = "authentication required", reason = "UNAUTHENTICATED"): DomainError {
  return new DomainError(Code.Unauthenticated, message, { reason });
}

export function resourceExhausted(message: string, reason = "RATE_LIMITED", retryAfterMs?: number): DomainError {
  const metadata = retryAfterMs === undefined ? undefined : { retry_after_ms: String(retryAfterMs) };
  return new DomainError(Code.ResourceExhausted, message, { reason, metadata });
}
