// What the credential process serves: CredentialService on gRPC and Connect,
// and the issuer's public documents (DID document, status lists, type metadata,
// schemas) as plain GETs on the HTTP port. The issuer key is made (or opened)
// before serving, so a wrong key-encryption key stops the process at start.
import { CredentialService } from "@trustmesh/api";
import { VerificationFailure } from "@trustmesh/api/trustmesh/credential/v1/credential_pb.js";
import { createSealer, parseKeyRing, registration, type ServiceDefinition } from "@trustmesh/runtime";
import { credentialConfigShape } from "./config.ts";
import { didWebOfOrigin, issuerDidDocument } from "./did-web.ts";
import { registerHttpDocuments } from "./http-documents.ts";
import { createIssuerKeys } from "./issuer-keys.ts";
import { createCredentialMetrics } from "./metrics.ts";
import { createCredentialServiceImpl } from "./service/index.ts";
import { outcomeLabel } from "./service/verify.ts";
import { createStatusLists } from "./status-lists.ts";
import { createCredentialStore } from "./store.ts";
import { createVerifier } from "./verification.ts";

const dayMs = 86_400_000;
/** How often a running process checks whether the issuer key is due for rotation. */
const rotationCheckIntervalMs = 3_600_000;

export const credentialDefinition: ServiceDefinition<typeof credentialConfigShape> = {
  name: "credential",
  configShape: credentialConfigShape,
  migrationsDir: new URL("../prisma/migrations", import.meta.url).pathname,
  async createServices({ config, pool, metrics: rpcMetrics, logger, httpRoutes }) {
    const issuerOrigin = new URL(config.CREDENTIAL_ISSUER_URL ?? `http://localhost:${config.HTTP_PORT}`);
    const issuerUrl = issuerOrigin.origin;
    const issuerDid = didWebOfOrigin(issuerOrigin);
    const store = createCredentialStore(pool);
    const sealer = createSealer(parseKeyRing(config.CREDENTIAL_KEK_RING), config.CREDENTIAL_KEK_ACTIVE_ID);
    const issuerKeys = createIssuerKeys(store, sealer);
    const rotationDays = config.CREDENTIAL_ISSUER_KEY_ROTATION_DAYS;
    const rotateIfDue = async () => {
      if (rotationDays > 0 && (await issuerKeys.rotateIfOlderThan(rotationDays * dayMs))) logger.info("issuer key rotated by age");
    };
    await rotateIfDue();
    // Opens the active key (making it on first start): a key ring that cannot open it fails here.
    const { kid } = await issuerKeys.signingKey();
    logger.info({ issuerDid, kid }, "issuer key ready");
    const rotationTimer = setInterval(() => {
      rotateIfDue().catch((error: unknown) => logger.warn({ err: error }, "issuer key rotation check failed"));
    }, rotationCheckIntervalMs);
    rotationTimer.unref();

    const statusLists = createStatusLists({
      store,
      issuerKeys,
      issuerDid,
      issuerUrl,
      cacheSeconds: config.CREDENTIAL_STATUS_LIST_CACHE_SECONDS,
      validitySeconds: config.CREDENTIAL_STATUS_LIST_VALIDITY_SECONDS,
    });
    const outcomes = Object.values(VerificationFailure)
      .filter((value): value is VerificationFailure => typeof value === "number")
      .map(outcomeLabel);
    const impl = createCredentialServiceImpl({
      store,
      sealer,
      issuerKeys,
      statusLists,
      verifier: createVerifier({ issuerDid, issuerUrl, issuerKeys, statusLists }),
      metrics: createCredentialMetrics(rpcMetrics, outcomes),
      issuerDid,
      issuerUrl,
      defaultEncoding: config.CREDENTIAL_DEFAULT_FORMAT === "vc-jwt" ? "VC_JWT" : "SD_JWT_VC",
      validityMs: config.CREDENTIAL_VALIDITY_DAYS * dayMs,
      statusListSize: config.CREDENTIAL_STATUS_LIST_SIZE,
    });
    registerHttpDocuments(httpRoutes, {
      issuerUrl,
      statusLists,
      didDocument: async () => issuerDidDocument(issuerDid, await issuerKeys.allKeys()),
      cacheSeconds: config.CREDENTIAL_STATUS_LIST_CACHE_SECONDS,
    });
    return [registration(CredentialService, impl)];
  },
};
