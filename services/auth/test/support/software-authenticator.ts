// A WebAuthn authenticator in software, for tests: it does what a platform
// authenticator and the browser do together, for real. Each credential is a
// fresh ES256 (P-256) key pair from node:crypto; registration returns an
// attestation object in CBOR with authenticator data (RP id hash, flags UP,
// UV, AT and optionally BE/BS, signature counter, AAGUID, credential id, COSE
// public key) and either a "none" statement or a "packed" self-attestation
// signed with the credential's key; an assertion is signed over authenticator
// data and the client data hash, exactly as WebAuthn §6.3.3 says. Nothing is
// mocked: the server verifies these bytes as it would a phone's.
//
// CBOR comes from @levischuck/tiny-cbor, the library @simplewebauthn/server
// itself depends on (so it adds no package), small, pure TypeScript and
// maintained; it encodes Maps with integer keys as COSE needs.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { encodeCBOR } from "@levischuck/tiny-cbor";

/** Authenticator-data flags (WebAuthn §6.1). */
const flagUserPresent = 0x01;
const flagUserVerified = 0x04;
const flagBackupEligible = 0x08;
const flagBackedUp = 0x10;
const flagAttestedCredentialData = 0x40;

/** COSE algorithm ES256 and key parameters (RFC 9053). */
const coseAlgorithmEs256 = -7;

export interface SoftwareCredential {
  /** base64url */
  id: string;
  rpId: string;
  /** The WebAuthn user handle, base64url, from the creation options. */
  userHandle: string;
  privateKey: KeyObject;
  /** The counter this authenticator will report next time, minus one. */
  signCount: number;
}

export interface SoftwareAuthenticatorOptions {
  /** The authenticator model's AAGUID; all zeros (undisclosed) by default. */
  aaguid?: string;
  /** "packed" self-attestation (signed) or "none". Default "packed". */
  attestation?: "none" | "packed";
  /** Report a synced passkey (BE and BS set). */
  backedUp?: boolean;
  /** Keep a signature counter; false reports 0 for ever, as synced passkeys do. Default true. */
  counter?: boolean;
}

export interface CeremonyOverrides {
  /** The origin the "browser" puts into client data; tests set a wrong one. */
  origin: string;
  /** Sign for this RP id instead of the one in the options. */
  rpId?: string;
  /** Leave the UV flag off, as an authenticator that skipped the PIN would. */
  userVerified?: boolean;
  /** Use this credential (base64url id) rather than the first that fits. */
  credentialId?: string;
}

const base64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

function aaguidBytes(aaguid: string): Buffer {
  const bytes = Buffer.from(aaguid.replaceAll("-", ""), "hex");
  if (bytes.length !== 16) throw new Error(`AAGUID ${aaguid} is not 16 bytes`);
  return bytes;
}

/** The credential's public key as a COSE_Key map (kty EC2, alg ES256, crv P-256, x, y). */
function coseKeyOf(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: "jwk" });
  const cose = new Map<number, number | Uint8Array>([
    [1, 2],
    [3, coseAlgorithmEs256],
    [-1, 1],
    [-2, Buffer.from(jwk.x ?? "", "base64url")],
    [-3, Buffer.from(jwk.y ?? "", "base64url")],
  ]);
  return encodeCBOR(cose);
}

function clientData(type: "webauthn.create" | "webauthn.get", challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), "utf8");
}

/** The PublicKeyCredential as the browser library serialises it. */
function credentialJson(credential: SoftwareCredential, response: Record<string, string | string[]>): string {
  return JSON.stringify({
    id: credential.id,
    rawId: credential.id,
    type: "public-key",
    response,
    clientExtensionResults: {},
    authenticatorAttachment: "platform",
  });
}

export interface SoftwareAuthenticator {
  /** What navigator.credentials.create() would return, as the RegistrationResponseJSON the server takes. */
  register(optionsJson: string, overrides: CeremonyOverrides): string;
  /** What navigator.credentials.get() would return, as AuthenticationResponseJSON. */
  authenticate(optionsJson: string, overrides: CeremonyOverrides): string;
  /** The credentials it holds. */
  readonly credentials: SoftwareCredential[];
  /** Sets the counter the next assertion reports (minus one), to play a cloned key. */
  setSignCount(credentialId: string, signCount: number): void;
}

export function createSoftwareAuthenticator(options: SoftwareAuthenticatorOptions = {}): SoftwareAuthenticator {
  const aaguid = aaguidBytes(options.aaguid ?? "00000000-0000-0000-0000-000000000000");
  const attestation = options.attestation ?? "packed";
  const keepsCounter = options.counter ?? true;
  const backupFlags = options.backedUp ? flagBackupEligible | flagBackedUp : 0;
  const credentials: SoftwareCredential[] = [];

  const flagsFor = (overrides: CeremonyOverrides) =>
    flagUserPresent | (overrides.userVerified === false ? 0 : flagUserVerified) | backupFlags;

  return {
    credentials,

    register(optionsJson, overrides) {
      const creation = JSON.parse(optionsJson) as {
        challenge: string;
        rp: { id: string };
        user: { id: string };
        pubKeyCredParams: { alg: number }[];
        excludeCredentials?: { id: string }[];
      };
      if (!creation.pubKeyCredParams.some((parameter) => parameter.alg === coseAlgorithmEs256)) {
        throw new Error("NotSupportedError: the options do not allow ES256");
      }
      const excluded = new Set((creation.excludeCredentials ?? []).map((credential) => credential.id));
      if (credentials.some((credential) => excluded.has(credential.id) && credential.rpId === creation.rp.id)) {
        throw new Error("InvalidStateError: this authenticator already holds an excluded credential");
      }
      const rpId = overrides.rpId ?? creation.rp.id;
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const credentialId = randomBytes(32);
      const credential: SoftwareCredential = {
        id: base64url(credentialId),
        rpId,
        userHandle: creation.user.id,
        privateKey,
        signCount: 0,
      };
      const credentialIdLength = Buffer.alloc(2);
      credentialIdLength.writeUInt16BE(credentialId.length);
      const authenticatorData = Buffer.concat([
        sha256(rpId),
        Buffer.from([flagsFor(overrides) | flagAttestedCredentialData]),
        uint32(credential.signCount),
        aaguid,
        credentialIdLength,
        credentialId,
        coseKeyOf(privateKey),
      ]);
      const clientDataJson = clientData("webauthn.create", creation.challenge, overrides.origin);
      const statement =
        attestation === "none"
          ? new Map()
          : new Map<string, number | Uint8Array>([
              ["alg", coseAlgorithmEs256],
              ["sig", sign("sha256", Buffer.concat([authenticatorData, sha256(clientDataJson)]), privateKey)],
            ]);
      const attestationObject = encodeCBOR(
        new Map<string, string | Uint8Array | Map<string, number | Uint8Array>>([
          ["fmt", attestation],
          ["attStmt", statement],
          ["authData", authenticatorData],
        ]),
      );
      credentials.push(credential);
      return credentialJson(credential, {
        clientDataJSON: base64url(clientDataJson),
        attestationObject: base64url(attestationObject),
        transports: ["internal", "hybrid"],
      });
    },

    authenticate(optionsJson, overrides) {
      const request = JSON.parse(optionsJson) as { challenge: string; rpId: string; allowCredentials?: { id: string }[] };
      const allowed = new Set((request.allowCredentials ?? []).map((credential) => credential.id));
      const credential = credentials.find(
        (candidate) =>
          (overrides.credentialId === undefined || candidate.id === overrides.credentialId) &&
          candidate.rpId === (overrides.rpId ?? request.rpId) &&
          (allowed.size === 0 || allowed.has(candidate.id)),
      );
      if (credential === undefined) throw new Error("NotAllowedError: no credential for these options");
      if (keepsCounter) credential.signCount += 1;
      const authenticatorData = Buffer.concat([
        sha256(overrides.rpId ?? request.rpId),
        Buffer.from([flagsFor(overrides)]),
        uint32(keepsCounter ? credential.signCount : 0),
      ]);
      const clientDataJson = clientData("webauthn.get", request.challenge, overrides.origin);
      // ECDSA signatures in WebAuthn are ASN.1 DER, node:crypto's default.
      const signature = sign("sha256", Buffer.concat([authenticatorData, sha256(clientDataJson)]), credential.privateKey);
      return credentialJson(credential, {
        clientDataJSON: base64url(clientDataJson),
        authenticatorData: base64url(authenticatorData),
        signature: base64url(signature),
        userHandle: credential.userHandle,
      });
    },

    setSignCount(credentialId, signCount) {
      const credential = credentials.find((candidate) => candidate.id === credentialId);
      if (credential === undefined) throw new Error(`no credential ${credentialId}`);
      credential.signCount = signCount;
    },
  };
}
