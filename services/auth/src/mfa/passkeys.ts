// Passkeys: WebAuthn registration and authentication with
// @simplewebauthn/server, for passwordless login (discoverable credentials,
// no username) and as an answer to an MFA challenge.
//
// Policy (docs/second-factors.md: Passkeys):
// - Registration asks for a discoverable credential (residentKey "required")
//   with user verification "required", and excludes the account's existing
//   passkeys. Attestation "none": we do not restrict authenticator models, so
//   certificate chains would prove nothing we act on.
// - Every authentication requires user verification (the UV flag), at login
//   and at an MFA challenge alike: a passkey that verified its user is two
//   factors by itself, and every registered passkey could do it, because
//   registration required it.
// - Challenges are single-use (GETDEL) and expire (AUTH_WEBAUTHN_CHALLENGE_SECONDS).
// - Origins must be one of AUTH_WEBAUTHN_ORIGINS; the RP id hash must be
//   AUTH_WEBAUTHN_RP_ID's.
// - Signature counter: checked here, after the signature verified (a counter in
//   an unsigned or badly signed response proves nothing). A counter that does
//   not move forward is refused with PASSKEY_COUNTER_REGRESSED, a sign of a
//   cloned key, unless stored and presented counters are both 0: synced
//   passkeys have no counter. The credential is not disabled automatically;
//   the audit event lets a person decide.
// - The WebAuthn user handle is the account id's 16 bytes: random, not
//   personal data, and the same for all of an account's passkeys.
import { createHash, randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { COSEALG } from "@simplewebauthn/server/helpers";
import { type Passkey, PasskeySchema } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { alreadyExists, failedPrecondition, invalidArgument } from "@trustmesh/runtime";
import { z } from "zod";
import { registrationCeremonyUnknown, registrationRejected, SecondFactorRejectedError } from "./errors.ts";
import type { PasskeyStore, StoredPasskey } from "./store.ts";
import type { WebauthnCeremonies } from "./webauthn-ceremonies.ts";

export interface PasskeySettings {
  relyingPartyId: string;
  relyingPartyName: string;
  origins: readonly string[];
  challengeTtlMs: number;
  passkeysPerUserMax: number;
}

export interface PasskeyCeremony {
  /** Names the ceremony for its Finish call. */
  ceremonyId: string;
  /** PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON. */
  optionsJson: string;
  expiresAt: Date;
}

export interface PasskeyAuthentication {
  userId: string;
  passkey: StoredPasskey;
}

export interface Passkeys {
  /**
   * Creation options for the caller. `account.name` is the name the
   * authenticator stores and shows (the email or phone number);
   * `account.displayName` may be empty. FAILED_PRECONDITION
   * (PASSKEY_LIMIT_REACHED) when the account has the most passkeys allowed.
   */
  beginRegistration(userId: string, account: { name: string; displayName: string }): Promise<PasskeyCeremony>;
  /**
   * Verifies the registration response of the caller's ceremony and stores the
   * passkey. The ceremony is used up whatever the outcome. FAILED_PRECONDITION
   * for an unknown ceremony; INVALID_ARGUMENT (response_json) for a response
   * that does not verify; ALREADY_EXISTS for a registered credential.
   */
  finishRegistration(userId: string, request: { ceremonyId: string; responseJson: string; name: string }): Promise<Passkey>;
  /** Request options naming no account, for a login without username. */
  beginLogin(): Promise<PasskeyCeremony>;
  /**
   * Verifies a login assertion and says whose passkey it was. The ceremony is
   * used up whatever the outcome. SecondFactorRejectedError for every
   * refusal; INVALID_ARGUMENT (response_json) for malformed JSON.
   */
  finishLogin(request: { ceremonyId: string; responseJson: string }): Promise<PasskeyAuthentication>;
  /**
   * Request options listing the account's passkeys, bound to one half-finished
   * login (`attemptId`, any string unique to it; it is hashed before use), or
   * "" when the account has no passkey.
   */
  beginSecondFactor(userId: string, attemptId: string): Promise<string>;
  /**
   * Verifies an assertion answering beginSecondFactor's options for the same
   * account and attempt. `field` names the request field for INVALID_ARGUMENT.
   */
  verifySecondFactor(userId: string, attemptId: string, responseJson: string, field: string): Promise<PasskeyAuthentication>;
  /** The account's passkeys, newest first, as GetMe returns them. */
  list(userId: string): Promise<Passkey[]>;
  count(userId: string): Promise<number>;
}

/**
 * Key algorithms accepted at registration: EdDSA, ES256 and RS256, what
 * authenticators ship. Named rather than left to the library's default, which
 * would also offer ML-DSA-44 through Node's experimental Web Crypto support.
 */
const supportedAlgorithmIds = [COSEALG.EdDSA, COSEALG.ES256, COSEALG.RS256];

/** Transports a browser may report; anything else is dropped rather than stored. */
const knownTransports = new Set(["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]);
const nameLengthMax = 64;

// The outer shape of the browser's JSON, checked before the library sees it,
// so a malformed body is INVALID_ARGUMENT rather than a library exception.
const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/, "base64url");
const credentialShape = {
  id: base64url.min(1),
  rawId: base64url.min(1),
  type: z.literal("public-key"),
  clientExtensionResults: z.looseObject({}).default({}),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
};
const registrationResponseSchema = z.looseObject({
  ...credentialShape,
  response: z.looseObject({
    clientDataJSON: base64url,
    attestationObject: base64url,
    transports: z.array(z.string().max(32)).max(16).optional(),
  }),
});
const authenticationResponseSchema = z.looseObject({
  ...credentialShape,
  response: z.looseObject({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
});

function parseResponse<T>(schema: z.ZodType<T>, json: string, field: string): T {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalidArgument(field, "is not valid JSON");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidArgument(field, `is not a WebAuthn response: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? ""}`.trim());
  }
  return parsed.data;
}

/** The WebAuthn user handle of an account: its UUID's 16 bytes. */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  const hex = userId.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`account id ${userId} is not a UUID`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

export function toPasskeyMessage(passkey: StoredPasskey): Passkey {
  return create(PasskeySchema, {
    id: passkey.id,
    credentialId: passkey.credentialId,
    name: passkey.name,
    aaguid: passkey.aaguid,
    transports: passkey.transports,
    backedUp: passkey.backedUp,
    createdAt: timestampFromDate(passkey.createdAt),
    lastUsedAt: passkey.lastUsedAt === null ? undefined : timestampFromDate(passkey.lastUsedAt),
  });
}

export function createPasskeys(dependencies: { store: PasskeyStore; ceremonies: WebauthnCeremonies; settings: PasskeySettings }): Passkeys {
  const { store, ceremonies, settings } = dependencies;
  const origins = [...settings.origins];
  const secondFactorKey = (attemptId: string) => createHash("sha256").update(attemptId).digest("hex");
  const expiry = () => new Date(Date.now() + settings.challengeTtlMs);
  const limitReached = () =>
    failedPrecondition(`the account already has the most passkeys allowed (${settings.passkeysPerUserMax})`, "PASSKEY_LIMIT_REACHED");

  /**
   * Checks an assertion against a stored passkey, then moves its counter
   * forward; every refusal is a SecondFactorRejectedError naming why.
   */
  async function verifyAssertion(passkey: StoredPasskey, response: AuthenticationResponseJSON, challenge: string) {
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== "" && handle !== Buffer.from(userHandleOf(passkey.userId)).toString("base64url")) {
      throw new SecondFactorRejectedError("PASSKEY_VERIFICATION_FAILED", { passkeyId: passkey.id });
    }
    let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: origins,
        expectedRPID: settings.relyingPartyId,
        requireUserVerification: true,
        // Counter 0 turns off the library's own counter check, which runs
        // before the signature is verified and cannot be told from other
        // failures; ours runs after, below.
        credential: { id: passkey.credentialId, publicKey: new Uint8Array(passkey.publicKey), counter: 0, transports: passkey.transports },
      });
    } catch (error) {
      throw new SecondFactorRejectedError("PASSKEY_VERIFICATION_FAILED", { passkeyId: passkey.id, cause: error });
    }
    if (!verification.verified) throw new SecondFactorRejectedError("PASSKEY_VERIFICATION_FAILED", { passkeyId: passkey.id });
    const { newCounter, credentialBackedUp } = verification.authenticationInfo;
    const moved = await store.recordPasskeyUse({ id: passkey.id, signCount: newCounter, backedUp: credentialBackedUp, usedAt: new Date() });
    if (!moved) throw new SecondFactorRejectedError("PASSKEY_COUNTER_REGRESSED", { passkeyId: passkey.id });
    return { userId: passkey.userId, passkey: { ...passkey, signCount: newCounter, backedUp: credentialBackedUp } };
  }

  return {
    async beginRegistration(userId, account) {
      const existing = await store.listPasskeys(userId, settings.passkeysPerUserMax);
      if (existing.length >= settings.passkeysPerUserMax) throw limitReached();
      const options = await generateRegistrationOptions({
        rpName: settings.relyingPartyName,
        rpID: settings.relyingPartyId,
        userName: account.name,
        userID: userHandleOf(userId),
        userDisplayName: account.displayName,
        timeout: settings.challengeTtlMs,
        attestationType: "none",
        excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
        authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
        supportedAlgorithmIDs: supportedAlgorithmIds,
      });
      const ceremonyId = randomUUID();
      await ceremonies.start("registration", ceremonyId, { challenge: options.challenge, userId }, settings.challengeTtlMs);
      return { ceremonyId, optionsJson: JSON.stringify(options), expiresAt: expiry() };
    },

    async finishRegistration(userId, request) {
      const ceremony = await ceremonies.take("registration", request.ceremonyId);
      if (ceremony === null || ceremony.userId !== userId) throw registrationCeremonyUnknown("ceremony_id");
      if (request.name.length > nameLengthMax) throw invalidArgument("name", `at most ${nameLengthMax} characters`);
      const response = parseResponse(registrationResponseSchema, request.responseJson, "response_json") as RegistrationResponseJSON;
      let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verification = await verifyRegistrationResponse({
          response,
          expectedChallenge: ceremony.challenge,
          expectedOrigin: origins,
          expectedRPID: settings.relyingPartyId,
          requireUserVerification: true,
          supportedAlgorithmIDs: supportedAlgorithmIds,
        });
      } catch (error) {
        throw registrationRejected(error);
      }
      if (!verification.verified) throw registrationRejected();
      const { credential, aaguid, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
      const stored = await store.insertPasskey(
        {
          id: randomUUID(),
          userId,
          credentialId: credential.id,
          publicKey: credential.publicKey,
          signCount: credential.counter,
          transports: [...new Set(credential.transports ?? [])].filter((transport) => knownTransports.has(transport)),
          aaguid,
          deviceType: credentialDeviceType,
          backedUp: credentialBackedUp,
          // No AAGUID-to-model table ships with us, so a passkey the owner did
          // not name gets a generic one.
          name: request.name.trim() || (credentialBackedUp ? "Synced passkey" : "Passkey"),
        },
        settings.passkeysPerUserMax,
      );
      if (stored === "limit-reached") throw limitReached();
      if (stored === "duplicate") throw alreadyExists("this passkey is already registered", "PASSKEY_ALREADY_REGISTERED");
      return toPasskeyMessage(stored);
    },

    async beginLogin() {
      const options = await generateAuthenticationOptions({
        rpID: settings.relyingPartyId,
        timeout: settings.challengeTtlMs,
        userVerification: "required",
      });
      const ceremonyId = randomUUID();
      await ceremonies.start("login", ceremonyId, { challenge: options.challenge, userId: null }, settings.challengeTtlMs);
      return { ceremonyId, optionsJson: JSON.stringify(options), expiresAt: expiry() };
    },

    async finishLogin(request) {
      const ceremony = await ceremonies.take("login", request.ceremonyId);
      if (ceremony === null) throw new SecondFactorRejectedError("PASSKEY_CHALLENGE_UNKNOWN");
      const response = parseResponse(authenticationResponseSchema, request.responseJson, "response_json") as AuthenticationResponseJSON;
      const passkey = await store.findPasskeyByCredentialId(response.id);
      if (passkey === null) throw new SecondFactorRejectedError("PASSKEY_UNKNOWN");
      // Without a username the user handle is how the authenticator says whose
      // credential it is; WebAuthn §7.2 requires it here.
      if (!response.response.userHandle) throw new SecondFactorRejectedError("PASSKEY_VERIFICATION_FAILED", { passkeyId: passkey.id });
      return verifyAssertion(passkey, response, ceremony.challenge);
    },

    async beginSecondFactor(userId, attemptId) {
      const passkeys = await store.listPasskeys(userId, settings.passkeysPerUserMax);
      if (passkeys.length === 0) return "";
      const options = await generateAuthenticationOptions({
        rpID: settings.relyingPartyId,
        timeout: settings.challengeTtlMs,
        userVerification: "required",
        allowCredentials: passkeys.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
      });
      await ceremonies.start(
        "second-factor",
        secondFactorKey(attemptId),
        { challenge: options.challenge, userId },
        settings.challengeTtlMs,
      );
      return JSON.stringify(options);
    },

    async verifySecondFactor(userId, attemptId, responseJson, field) {
      const ceremony = await ceremonies.take("second-factor", secondFactorKey(attemptId));
      if (ceremony === null || ceremony.userId !== userId) throw new SecondFactorRejectedError("PASSKEY_CHALLENGE_UNKNOWN");
      const response = parseResponse(authenticationResponseSchema, responseJson, field) as AuthenticationResponseJSON;
      const passkey = await store.findPasskeyByCredentialId(response.id);
      if (passkey === null || passkey.userId !== userId) throw new SecondFactorRejectedError("PASSKEY_UNKNOWN");
      return verifyAssertion(passkey, response, ceremony.challenge);
    },

    async list(userId) {
      return (await store.listPasskeys(userId, settings.passkeysPerUserMax)).map(toPasskeyMessage);
    },

    count: (userId) => store.countPasskeys(userId),
  };
}
