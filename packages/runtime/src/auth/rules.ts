// Reads the trustmesh.authz.v1.rule option of each RPC and decides whether a
// principal may make a call.
import { type DescMethod, type DescService, getOption, hasOption } from "@bufbuild/protobuf";
import { Audience, type Rule, rule as ruleExtension } from "@trustmesh/api/trustmesh/authz/v1/authz_pb.js";
import { isAdmin, type Principal } from "../context.ts";
import { permissionDenied, unauthenticated } from "../errors.ts";

/**
 * Infrastructure services defined by specifications we do not own; they are
 * open to every caller, as Kubernetes probes and grpcurl expect.
 */
const publicInfrastructureServices = new Set(["grpc.health.v1.Health"]);

/** An authorization rule resolved for one method, with its owner path pre-split. */
export interface ResolvedRule {
  readonly audience: Audience;
  readonly services: ReadonlySet<string>;
  /** Whether admin users are admitted besides the audience. */
  readonly admins: boolean;
  /** Property names (localName) leading to the owner id in the request, or empty. */
  readonly ownerPath: readonly string[];
  /** The scope that admits a service token to this method: "pkg.Service/Method". */
  readonly methodScope: string;
  /** The scope that admits a service token to every method of the service: "pkg.Service/*". */
  readonly serviceScope: string;
}

const resolved = new WeakMap<DescMethod, ResolvedRule | undefined>();

function resolveOwnerPath(method: DescMethod, ownerField: string): string[] {
  if (ownerField === "") return [];
  const path: string[] = [];
  let message = method.input;
  for (const name of ownerField.split(".")) {
    const field = message.fields.find((candidate) => candidate.name === name);
    if (!field) throw new Error(`${method.parent.typeName}/${method.name}: owner_field "${ownerField}" is not a request field`);
    path.push(field.localName);
    if (field.fieldKind === "message") message = field.message;
  }
  return path;
}

/** The rule of a method; undefined when the method has none (which the caller must refuse). */
export function ruleOf(method: DescMethod): ResolvedRule | undefined {
  if (resolved.has(method)) return resolved.get(method);
  let result: ResolvedRule | undefined;
  const methodScope = `${method.parent.typeName}/${method.name}`;
  const serviceScope = `${method.parent.typeName}/*`;
  if (publicInfrastructureServices.has(method.parent.typeName)) {
    result = { audience: Audience.PUBLIC, services: new Set(), admins: false, ownerPath: [], methodScope, serviceScope };
  } else if (hasOption(method, ruleExtension)) {
    const rule: Rule = getOption(method, ruleExtension);
    result = {
      audience: rule.audience,
      services: new Set(rule.services),
      admins: rule.admins,
      ownerPath: resolveOwnerPath(method, rule.ownerField),
      methodScope,
      serviceScope,
    };
  }
  resolved.set(method, result);
  return result;
}

/** Every method of the services lacking a usable rule, as "Service/Method" strings. */
export function methodsWithoutRule(services: readonly DescService[]): string[] {
  return services.flatMap((service) =>
    service.methods
      .filter((method) => {
        const rule = ruleOf(method);
        return rule === undefined || rule.audience === Audience.UNSPECIFIED;
      })
      .map((method) => `${service.typeName}/${method.name}`),
  );
}

function ownerIdOf(message: unknown, path: readonly string[]): unknown {
  let value: unknown = message;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/**
 * Throws UNAUTHENTICATED when the call needs a principal it lacks, and
 * PERMISSION_DENIED when the principal is not admitted. The request message is
 * needed only for owner rules with an owner field.
 */
export function authorize(rule: ResolvedRule | undefined, principal: Principal | undefined, message: unknown): void {
  if (rule === undefined || rule.audience === Audience.UNSPECIFIED) {
    throw permissionDenied("this RPC has no authorization rule", "NO_AUTHZ_RULE");
  }
  if (rule.audience === Audience.PUBLIC) return;
  if (principal === undefined) throw unauthenticated();
  if (principal.kind === "service") {
    if (!rule.services.has(principal.serviceName)) throw permissionDenied(`service ${principal.serviceName} may not call this RPC`);
    // The rule says what a service may ever call; the token's scope, from
    // auth's per-deployment config, narrows it. No scope claim admits nothing.
    if (principal.scopes.has(rule.methodScope) || principal.scopes.has(rule.serviceScope)) return;
    throw permissionDenied(`the service token's scope does not include ${rule.methodScope}`, "OUT_OF_SCOPE");
  }
  if (rule.admins && isAdmin(principal)) return;
  switch (rule.audience) {
    case Audience.USER:
      return;
    case Audience.OWNER: {
      if (rule.ownerPath.length === 0) return; // The handler checks the loaded resource.
      if (ownerIdOf(message, rule.ownerPath) === principal.userId) return;
      throw permissionDenied("you may act only on your own resources", "NOT_OWNER");
    }
    case Audience.ADMIN:
      if (isAdmin(principal)) return;
      throw permissionDenied("admin role required", "ADMIN_REQUIRED");
    default:
      throw permissionDenied("only internal services may call this RPC", "SERVICE_ONLY");
  }
}
