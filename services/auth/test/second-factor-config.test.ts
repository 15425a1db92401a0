// Goal: the second-factor variables load with documented defaults, parse the
// origin list, and stop the process at start, naming the variable, when a
// value is malformed or an origin lies outside the RP id.
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "@trustmesh/runtime";
import { secondFactorConfigShape, secondFactorSettings } from "../src/mfa/config.ts";

const load = (env: Record<string, string>) => secondFactorSettings(loadConfig(secondFactorConfigShape, env));

function refuses(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => load(env),
    (error: unknown) => error instanceof ConfigError && error.variables.includes(variable),
  );
}

describe("second-factor configuration", () => {
  it("has defaults for local development", () => {
    assert.deepEqual(load({}), {
      relyingPartyId: "localhost",
      relyingPartyName: "Trustmesh",
      origins: ["http://localhost:5173"],
      challengeTtlMs: 300_000,
      passkeysPerUserMax: 20,
      totpIssuer: "Trustmesh",
      totpSetupTtlMs: 600_000,
      codeAttemptsMax: 5,
      codeAttemptsWindowMs: 900_000,
    });
  });

  it("reads a production setting with several origins under one RP id", () => {
    const settings = load({
      AUTH_WEBAUTHN_RP_ID: "example.com",
      AUTH_WEBAUTHN_ORIGINS: "https://example.com, https://app.example.com:8443",
      AUTH_WEBAUTHN_CHALLENGE_SECONDS: "120",
    });
    assert.deepEqual(settings.origins, ["https://example.com", "https://app.example.com:8443"]);
    assert.equal(settings.challengeTtlMs, 120_000);
  });

  it("refuses origins outside the RP id, malformed ids and out-of-range numbers", () => {
    refuses({ AUTH_WEBAUTHN_RP_ID: "example.com", AUTH_WEBAUTHN_ORIGINS: "https://example.com.evil.test" }, "AUTH_WEBAUTHN_ORIGINS");
    refuses({ AUTH_WEBAUTHN_RP_ID: "example.com", AUTH_WEBAUTHN_ORIGINS: "https://notexample.com" }, "AUTH_WEBAUTHN_ORIGINS");
    refuses({ AUTH_WEBAUTHN_ORIGINS: "ftp://localhost" }, "AUTH_WEBAUTHN_ORIGINS");
    refuses({ AUTH_WEBAUTHN_RP_ID: "https://example.com" }, "AUTH_WEBAUTHN_RP_ID");
    refuses({ AUTH_WEBAUTHN_CHALLENGE_SECONDS: "5" }, "AUTH_WEBAUTHN_CHALLENGE_SECONDS");
    refuses({ AUTH_TOTP_ISSUER: "Trust:mesh" }, "AUTH_TOTP_ISSUER");
    refuses({ AUTH_MFA_CODE_ATTEMPTS_MAX: "0" }, "AUTH_MFA_CODE_ATTEMPTS_MAX");
  });
});
