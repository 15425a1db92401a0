// Variables credential reads besides the runtime's base ones (README: Configuration).
import { z } from "zod";

export const credentialConfigShape = {
  /**
   * Key-encryption keys for the issuer's private keys and custodial holder keys
   * at rest, "id:base64(32 bytes)" comma separated. All of them open old data;
   * CREDENTIAL_KEK_ACTIVE_ID seals new data.
   */
  CREDENTIAL_KEK_RING: z.string().min(1),
  CREDENTIAL_KEK_ACTIVE_ID: z.string().min(1),
  /**
   * The public origin (and optional path) where this service's HTTP port is
   * reachable, e.g. https://id.example.com. The issuer's did:web is derived from
   * it (did:web:id.example.com) and status lists, schemas and type metadata are
   * published under it. Unset means http://localhost:<HTTP_PORT>, for a
   * machine of one's own.
   */
  CREDENTIAL_ISSUER_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The format IssueCredential uses when the request leaves it unspecified. */
  CREDENTIAL_DEFAULT_FORMAT: z.enum(["sd-jwt-vc", "vc-jwt"]).default("sd-jwt-vc"),
  /** How long a credential is valid when the request gives no valid_until. */
  CREDENTIAL_VALIDITY_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
  /**
   * Entries per status list. 131072 is the Bitstring Status List minimum (16 KiB),
   * the size at which a random index hides how many credentials were issued.
   */
  CREDENTIAL_STATUS_LIST_SIZE: z.coerce.number().int().min(131_072).max(8_388_608).default(131_072),
  /** How long verifiers and caches may keep a published status list (Cache-Control max-age, the list's ttl). */
  CREDENTIAL_STATUS_LIST_CACHE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** How long a signed status list stays valid (its exp / validUntil); it is re-signed before then. */
  CREDENTIAL_STATUS_LIST_VALIDITY_SECONDS: z.coerce.number().int().min(600).max(2_592_000).default(86_400),
  /** Rotate the issuer key once it is this old (checked at start and hourly); 0 never rotates by age. */
  CREDENTIAL_ISSUER_KEY_ROTATION_DAYS: z.coerce.number().int().min(0).max(3650).default(180),
};
