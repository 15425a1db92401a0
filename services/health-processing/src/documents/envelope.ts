// Envelope encryption of originals: each document gets a fresh 256-bit data key;
// the document is sealed with it (AES-256-GCM, bound to the document id), and the
// data key is sealed by the configured key-encryption key. Rotating the KEK then
// means re-wrapping 32-byte keys, not re-encrypting documents, and deleting a
// wrapped key makes its document unreadable for good. Both layers reuse the
// runtime's sealer, so the AES-GCM format and its checks live in one place.
import { randomBytes } from "node:crypto";
import { createSealer, type Sealer } from "@trustmesh/runtime";

const dataKeyId = "dk";

export interface SealedDocument {
  sealedDataKey: Buffer;
  ciphertext: Buffer;
}

export function sealDocument(content: Uint8Array, documentId: string, keyEncryption: Sealer): SealedDocument {
  const dataKey = randomBytes(32);
  try {
    const ciphertext = createSealer(new Map([[dataKeyId, dataKey]]), dataKeyId).seal(content, `document:${documentId}`);
    return { sealedDataKey: keyEncryption.seal(dataKey, `data-key:${documentId}`), ciphertext };
  } finally {
    dataKey.fill(0);
  }
}

export function openDocument(
  sealed: { sealedDataKey: Uint8Array; ciphertext: Uint8Array },
  documentId: string,
  keyEncryption: Sealer,
): Buffer {
  const dataKey = keyEncryption.open(sealed.sealedDataKey, `data-key:${documentId}`);
  try {
    return createSealer(new Map([[dataKeyId, dataKey]]), dataKeyId).open(sealed.ciphertext, `document:${documentId}`);
  } finally {
    dataKey.fill(0);
  }
}
