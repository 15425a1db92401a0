// Rotates the issuer's signing key now: the active key is retired (it stays in
// the DID document, so what it signed keeps verifying) and a new one signs from
// the next issuance on, in every replica, since each reads the active key from
// the database. Reads DATABASE_URL, CREDENTIAL_KEK_RING and CREDENTIAL_KEK_ACTIVE_ID
// like the service; prints the new kid.
//
//   node services/credential/src/rotate-issuer-key.ts
import { ConfigError, createSealer, loadConfig, parseKeyRing } from "@trustmesh/runtime";
import pg from "pg";
import { z } from "zod";
import { credentialConfigShape } from "./config.ts";
import { createIssuerKeys } from "./issuer-keys.ts";
import { createCredentialStore } from "./store.ts";

const shape = {
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  CREDENTIAL_KEK_RING: credentialConfigShape.CREDENTIAL_KEK_RING,
  CREDENTIAL_KEK_ACTIVE_ID: credentialConfigShape.CREDENTIAL_KEK_ACTIVE_ID,
};

let config: ReturnType<typeof loadConfig<typeof shape>>;
try {
  config = loadConfig(shape);
} catch (error) {
  console.error(error instanceof ConfigError ? `rotate-issuer-key: ${error.message}` : error);
  process.exit(2);
}
const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 1, connectionTimeoutMillis: 5000 });
const store = createCredentialStore(pool);
try {
  const sealer = createSealer(parseKeyRing(config.CREDENTIAL_KEK_RING), config.CREDENTIAL_KEK_ACTIVE_ID);
  const kid = await createIssuerKeys(store, sealer).rotate();
  console.log(kid);
} finally {
  await store.close();
  await pool.end();
}
