// Variables auth reads besides the runtime's base ones (README: Configuration).
import { z } from "zod";

export const authConfigShape = {
  /**
   * Key-encryption keys for secrets at rest, "id:base64(32 bytes)" comma
   * separated. All of them open old data; AUTH_KEK_ACTIVE_ID seals new data.
   */
  AUTH_KEK_RING: z.string().min(1),
  AUTH_KEK_ACTIVE_ID: z.string().min(1),
  /** How long clients may cache GetJwks' answer. */
  AUTH_JWKS_CACHE_SECONDS: z.coerce.number().int().min(10).max(86_400).default(300),
};
