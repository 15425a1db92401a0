// The seam between sign-in and second factors. Login asks which factors an
// account has; CompleteMfa hands the answer over for checking; GetMe shows a
// summary and the passkeys. The MFA modules (TOTP with replay guard, recovery
// codes, passkeys) implement this interface; until they are wired in, the
// default below reports that no account has a second factor.
import type { AuthenticationMethod, MfaMethod, MfaSummary, Passkey } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import type { CompleteMfaRequest } from "@trustmesh/api/trustmesh/auth/v1/auth_service_pb.js";

/** The answer to an MFA challenge, as CompleteMfaRequest carries it. */
export type MfaProof = CompleteMfaRequest["proof"];

/** What verify decides. A failed proof says nothing about why. */
export type MfaVerdict = { ok: true; method: MfaMethod; authenticationMethod: AuthenticationMethod } | { ok: false };

export interface SecondFactors {
  /** The factors the user can answer a challenge with, strongest first; empty for none. */
  methodsFor(userId: string): Promise<MfaMethod[]>;
  /**
   * Called when Login issues a challenge. `challengeId` names it (stable for
   * the challenge's life, never the mfa_token itself) so a passkey ceremony can
   * keep its WebAuthn challenge under it. Returns the
   * PublicKeyCredentialRequestOptionsJSON to put into the challenge when
   * `methods` includes MFA_METHOD_PASSKEY, else "".
   */
  beginChallenge(
    userId: string,
    methods: readonly MfaMethod[],
    challengeId: string,
    expiresAt: Date,
  ): Promise<{ passkeyOptionsJson: string }>;
  /**
   * Checks one answer to the challenge. Must be single-use itself where the
   * factor demands it (a TOTP code used in its window, a used recovery code,
   * a consumed WebAuthn challenge are refused). The caller counts attempts and
   * ends the challenge on success.
   */
  verify(userId: string, proof: MfaProof, challengeId: string): Promise<MfaVerdict>;
  /** For GetMe: the account's factors without secrets. */
  summary(userId: string): Promise<MfaSummary | undefined>;
  /** For GetMe: registered passkeys, newest first, at most `limit`. */
  passkeys(userId: string, limit: number): Promise<Passkey[]>;
}

/** No account has a second factor: Login always returns tokens. */
export function createNoSecondFactors(): SecondFactors {
  return {
    methodsFor: async () => [],
    beginChallenge: async () => ({ passkeyOptionsJson: "" }),
    verify: async () => ({ ok: false }),
    summary: async () => undefined,
    passkeys: async () => [],
  };
}
