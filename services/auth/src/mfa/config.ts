// The variables second factors read (docs/second-factors.md: Configuration).
// authConfigShape (src/config.ts) spreads secondFactorConfigShape, so a
// wrong value stops auth at start with a message naming the variable, and
// routes.ts hands secondFactorSettings(config) to createSecondFactorModules.
import { ConfigError } from "@trustmesh/runtime";
import { z } from "zod";

const commaList = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1));

export const secondFactorConfigShape = {
  /**
   * The WebAuthn relying party id: the registrable domain passkeys are bound
   * to ("example.com"). Browsers refuse an id that is not the page's domain or
   * a parent of it, and a passkey never works under another id, so this is
   * chosen once per deployment.
   */
  AUTH_WEBAUTHN_RP_ID: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9.-]+$/, "a lower-case domain name without scheme or port")
    .default("localhost"),
  /** The name authenticators show beside the account ("Trustmesh"). */
  AUTH_WEBAUTHN_RP_NAME: z.string().min(1).max(64).default("Trustmesh"),
  /**
   * Origins whose ceremonies are accepted, comma separated, scheme and port
   * included ("https://app.example.com"). Each must be the RP id or a
   * subdomain of it; a response from any other origin is refused.
   */
  AUTH_WEBAUTHN_ORIGINS: commaList.default(["http://localhost:5173"]),
  /** How long a WebAuthn challenge stays usable; it is also the browser's timeout. */
  AUTH_WEBAUTHN_CHALLENGE_SECONDS: z.coerce.number().int().min(30).max(600).default(300),
  /** Most passkeys one account may register (GetMe lists them all). */
  AUTH_PASSKEYS_PER_USER_MAX: z.coerce.number().int().min(1).max(100).default(20),
  /** The issuer authenticator apps show beside the account. */
  AUTH_TOTP_ISSUER: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^:]+$/, "no colon: it separates issuer and account in the otpauth label")
    .default("Trustmesh"),
  /** How long a TOTP secret from SetupTotp waits for ConfirmTotp. */
  AUTH_TOTP_SETUP_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /** Wrong TOTP or recovery codes an account may send per window before further codes are refused. */
  AUTH_MFA_CODE_ATTEMPTS_MAX: z.coerce.number().int().min(1).max(100).default(5),
  /** The window of AUTH_MFA_CODE_ATTEMPTS_MAX, counted from the first wrong code. */
  AUTH_MFA_CODE_ATTEMPTS_WINDOW_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
};

type SecondFactorConfig = { [K in keyof typeof secondFactorConfigShape]: z.output<(typeof secondFactorConfigShape)[K]> };

/** Everything second factors are tuned by, in the units the code uses. */
export interface SecondFactorSettings {
  relyingPartyId: string;
  relyingPartyName: string;
  origins: readonly string[];
  challengeTtlMs: number;
  passkeysPerUserMax: number;
  totpIssuer: string;
  totpSetupTtlMs: number;
  codeAttemptsMax: number;
  codeAttemptsWindowMs: number;
}

/**
 * Converts the variables to settings, and refuses origins outside the RP id:
 * browsers would refuse every ceremony from them, which is better found at start.
 */
export function secondFactorSettings(config: SecondFactorConfig): SecondFactorSettings {
  const rpId = config.AUTH_WEBAUTHN_RP_ID;
  const outside = config.AUTH_WEBAUTHN_ORIGINS.filter((origin) => {
    const host = new URL(origin).hostname;
    return host !== rpId && !host.endsWith(`.${rpId}`);
  });
  if (outside.length > 0) {
    throw new ConfigError([
      { variable: "AUTH_WEBAUTHN_ORIGINS", message: `${outside.join(", ")} is not ${rpId} or a subdomain of it (AUTH_WEBAUTHN_RP_ID)` },
    ]);
  }
  return {
    relyingPartyId: config.AUTH_WEBAUTHN_RP_ID,
    relyingPartyName: config.AUTH_WEBAUTHN_RP_NAME,
    origins: config.AUTH_WEBAUTHN_ORIGINS,
    challengeTtlMs: config.AUTH_WEBAUTHN_CHALLENGE_SECONDS * 1000,
    passkeysPerUserMax: config.AUTH_PASSKEYS_PER_USER_MAX,
    totpIssuer: config.AUTH_TOTP_ISSUER,
    totpSetupTtlMs: config.AUTH_TOTP_SETUP_SECONDS * 1000,
    codeAttemptsMax: config.AUTH_MFA_CODE_ATTEMPTS_MAX,
    codeAttemptsWindowMs: config.AUTH_MFA_CODE_ATTEMPTS_WINDOW_SECONDS * 1000,
  };
}
