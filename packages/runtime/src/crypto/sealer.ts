// Envelope encryption for secrets and sensitive data at rest (TOTP secrets,
// issuer keys, health documents, face embeddings): AES-256-GCM under a
// key-encryption key from config, with the key id stored beside the
// ciphertext so keys can rotate — new data is sealed with the active key, old
// data still opens with the key it names.
//
// Sealed layout: version (1 byte, 1) | key id length (1) | key id | nonce (12) | ciphertext | tag (16).
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface Sealer {
  /** Encrypts; `context` (e.g. a row id) is authenticated, so ciphertext cannot be moved between rows. */
  seal(plaintext: Uint8Array, context?: string): Buffer;
  open(sealed: Uint8Array, context?: string): Buffer;
  readonly activeKeyId: string;
}

const version = 1;
const nonceBytes = 12;
const tagBytes = 16;

/**
 * Parses KEYS as "id1:base64key1,id2:base64key2"; each key must be 32 bytes.
 * The active key seals; all of them open.
 */
export function parseKeyRing(spec: string): Map<string, Buffer> {
  const ring = new Map<string, Buffer>();
  for (const entry of spec
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(":");
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), "base64");
    if (separator < 1 || id.length > 255 || !/^[A-Za-z0-9._-]+$/.test(id))
      throw new Error(`key id "${id}" must be 1-255 of [A-Za-z0-9._-]`);
    if (key.length !== 32) throw new Error(`key "${id}" must be 32 bytes of base64, got ${key.length}`);
    ring.set(id, key);
  }
  if (ring.size === 0) throw new Error("the key ring is empty");
  return ring;
}

export function createSealer(keys: ReadonlyMap<string, Buffer>, activeKeyId: string): Sealer {
  const activeKey = keys.get(activeKeyId);
  if (!activeKey) throw new Error(`active key "${activeKeyId}" is not in the key ring`);
  const activeId = Buffer.from(activeKeyId, "utf8");
  return {
    activeKeyId,
    seal(plaintext, context = "") {
      const nonce = randomBytes(nonceBytes);
      const cipher = createCipheriv("aes-256-gcm", activeKey, nonce);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.from([version, activeId.length]), activeId, nonce, body, cipher.getAuthTag()]);
    },
    open(sealed, context = "") {
      const bytes = Buffer.from(sealed);
      if (bytes.length < 2 + nonceBytes + tagBytes || bytes[0] !== version) throw new Error("sealed data is malformed");
      const idLength = bytes[1] as number;
      const id = bytes.subarray(2, 2 + idLength).toString("utf8");
      const key = keys.get(id);
      if (!key) throw new Error(`sealed with key "${id}", which is not in the key ring`);
      const nonce = bytes.subarray(2 + idLength, 2 + idLength + nonceBytes);
      const body = bytes.subarray(2 + idLength + nonceBytes, bytes.length - tagBytes);
      const decipher = createDecipheriv("aes-256-gcm", key, nonce);
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - tagBytes));
      return Buffer.concat([decipher.update(body), decipher.final()]);
    },
  };
}
