// Authentication (bearer JWT → principal) and authorization (the RPC's proto
// rule) in one step, before validation, so an anonymous caller learns nothing
// about which inputs a protected RPC would accept.
import type { Interceptor } from "@connectrpc/connect";
import { authorize, ruleOf } from "../auth/rules.ts";
import type { TokenVerifier } from "../auth/token-verifier.ts";
import { type Principal, principalKey } from "../context.ts";
import { unauthenticated } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { toConnectError } from "./error-mapping.ts";

const bearerPrefix = "Bearer ";
const bearerHeader = /^Bearer [A-Za-z0-9._~+/=-]+$/;

/** The bearer token of the request, undefined when there is none; throws when malformed. */
function bearerToken(header: Headers): string | undefined {
  const authorization = header.get("authorization");
  if (authorization === null) return undefined;
  // test() and slice() rather than a capture group: no match array per call.
  if (!bearerHeader.test(authorization)) throw unauthenticated("authorization header must be 'Bearer <token>'", "TOKEN_INVALID");
  return authorization.slice(bearerPrefix.length);
}

/** Yields the first message after checking it, for owner rules on streaming requests. */
async function* authorizeFirst<T>(messages: AsyncIterable<T>, check: (message: T) => void): AsyncIterable<T> {
  let first = true;
  for await (const message of messages) {
    if (first) check(message);
    first = false;
    yield message;
  }
}

export function createAuthInterceptor(options: { verifier: TokenVerifier; domain: string; logger: Logger }): Interceptor {
  // This runs outside the error-mapping interceptor, so it maps its own errors.
  const refuse = (error: unknown) => Promise.reject(toConnectError(error, options.domain, options.logger));
  return (next) => {
    // Built once per chain and handed the call, not made per call: this runs on every RPC.
    const proceed = (request: Parameters<typeof next>[0], principal: Principal | undefined) => {
      const rule = ruleOf(request.method);
      try {
        request.contextValues.set(principalKey, principal);
        // Everything but the owner comparison of a streaming request can be decided now.
        const ruleNow = request.stream && rule?.ownerPath.length ? { ...rule, ownerPath: [] } : rule;
        authorize(ruleNow, principal, request.stream ? undefined : request.message);
      } catch (error) {
        return refuse(error);
      }
      if (!request.stream || !rule?.ownerPath.length) return next(request);
      return next({ ...request, message: authorizeFirst(request.message, (message) => authorize(rule, principal, message)) });
    };
    return (request) => {
      let token: string | undefined;
      try {
        token = bearerToken(request.header);
      } catch (error) {
        return refuse(error);
      }
      // No token, or one verified before: decided without waiting (the common case).
      if (token === undefined) return proceed(request, undefined);
      const known = options.verifier.cached(token);
      if (known) return proceed(request, known);
      return options.verifier.verify(token).then((principal) => proceed(request, principal), refuse);
    };
  };
}
