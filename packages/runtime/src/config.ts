// Configuration comes from environment variables only, validated once at
// start. A missing or malformed variable stops the process with a message that
// names it, instead of failing later on the first request that needs it.
import { z } from "zod";

export class ConfigError extends Error {
  readonly variables: string[];
  constructor(problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.variables = problems.map((p) => p.variable);
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();
const commaList = z
  .string()
  .default("")
  .transform((value) =>
    value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  );

/**
 * Metadata (zod's `.meta(setInProduction)`) for a variable whose default suits
 * only a machine of one's own, such as a localhost address: a production
 * deployment must set it. The Helm chart's test (deploy/test/service-environment.test.ts)
 * reads it and fails unless the chart sets every such variable, as it fails for
 * every variable that has no default.
 */
export const setInProduction = { production: "required" } as const;

/** Variables every service reads. Services extend this with their own. */
export const baseConfigShape = {
  HOST: z.string().default("0.0.0.0"),
  /** Ports default to what the Helm chart's containers use; `npm start` gives each service its own. */
  GRPC_PORT: port.default(50051),
  HTTP_PORT: port.default(8080),
  ADMIN_PORT: port.default(9090),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Browser origins allowed to call the Connect/gRPC-Web port, comma separated. */
  CORS_ALLOWED_ORIGINS: commaList,
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }),
  /** auth's gRPC address; services fetch its public signing keys (GetJwks) from there. */
  AUTH_GRPC_URL: z.url({ protocol: /^https?$/ }),
  /** The iss claim tokens must carry. */
  AUTH_ISSUER: z.string().min(1).default("trustmesh-auth"),
  /** Default deadline for an RPC that arrives without one, and the most any caller may ask for. */
  RPC_DEFAULT_TIMEOUT_MS: positiveMs.default(10_000),
  RPC_MAX_TIMEOUT_MS: positiveMs.default(60_000),
  /** How long in-flight RPCs may run after SIGTERM before the process exits anyway. */
  SHUTDOWN_GRACE_MS: positiveMs.default(10_000),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
};

export type ConfigShape = Record<string, z.ZodType>;
export type Config<S extends ConfigShape> = Readonly<{ [K in keyof S]: z.output<S[K]> }>;
export type BaseConfig = Config<typeof baseConfigShape>;

export function loadConfig<S extends ConfigShape>(shape: S, env: NodeJS.ProcessEnv = process.env): Config<S> {
  // Empty strings count as unset, so `FOO=` in a shell behaves like no FOO.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? "(environment)"),
        message: issue.code === "invalid_type" && issue.input === undefined ? "is required but not set" : issue.message,
      })),
    );
  }
  return Object.freeze(result.data) as Config<S>;
}
