export { type AuthTokenSigner, createAuthTokenSigner } from "./auth-tokens.ts";
export { findFreePort } from "./free-port.ts";
export { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.ts";
export {
  type CreateDatabaseOptions,
  findPostgresBinaries,
  type PostgresBinarySource,
  type PostgresServer,
  type StartPostgresOptions,
  startPostgres,
} from "./postgres.ts";
export { type RedisServer, type StartRedisOptions, startRedis } from "./redis.ts";
export {
  createServiceClientCredentials,
  type ServiceClientCredentials,
  serviceClientEnvironment,
  serviceClientScopes,
} from "./service-clients.ts";
export {
  allServiceNames,
  type RunningServices,
  randomKeyEncryptionKeys,
  type ServiceAddresses,
  type ServiceName,
  type StartServicesOptions,
  startServices,
} from "./services.ts";
