// @trustmesh/runtime: everything a service needs besides its own handlers.

export { createAuthJwks } from "./auth/auth-jwks.ts";
export { authorize, methodsWithoutRule, ruleOf } from "./auth/rules.ts";
export { createTokenVerifier, type TokenVerifier, type TokenVerifierOptions } from "./auth/token-verifier.ts";
export { backoffDelayMs } from "./backoff.ts";
export { type ChangeNotices, type ChangeNoticesOptions, createChangeNotices } from "./change-notices.ts";
export { createServiceClient, createServiceTokenProvider, type ServiceClientOptions } from "./client.ts";
export { type BaseConfig, baseConfigShape, type Config, ConfigError, type ConfigShape, loadConfig, setInProduction } from "./config.ts";
export { isAdmin, type Principal, peerAddressKey, peerAddressOf, principalKey, principalOf, requireUserId } from "./context.ts";
export { createSealer, parseKeyRing, type Sealer } from "./crypto/sealer.ts";
export { CallbackFormClient } from "./db/callback-form-client.ts";
export { createServicePool, type ServicePoolOptions } from "./db/pool.ts";
export * from "./errors.ts";
export { createHealth, type HealthState, type ReadinessCheck } from "./health.ts";
export { idempotencyScopeOf, requestHashOf } from "./idempotency.ts";
export { createInterceptorStack } from "./interceptors/index.ts";
export { createLogger, type Logger } from "./logger.ts";
export { createMetrics, type RpcMetrics } from "./metrics.ts";
export { serviceNodeArguments, serviceV8PoolArgument } from "./node-arguments.ts";
export {
  createHttpRouteRegistry,
  type HttpRoute,
  type HttpRouteHandler,
  type HttpRouteRegistry,
  type HttpRouteRequest,
  type HttpRouteResponse,
} from "./server/http-routes.ts";
export { type RunningServer, type ServerOptions, startServer } from "./server/index.ts";
export { registration, type ServiceRegistration } from "./server/registration.ts";
export { releaseClosedHttp2Streams } from "./server/release-closed-streams.ts";
export {
  type RunningService,
  runServiceMain,
  type ServiceConfig,
  type ServiceDefinition,
  type ServiceDependencies,
  startService,
} from "./service-main.ts";
export { shutdownTelemetry, startTelemetry } from "./telemetry/sdk.ts";
