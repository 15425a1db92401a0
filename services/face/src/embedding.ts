// A face embedding is biometric data: it is sealed (AES-256-GCM, runtime
// sealer) before it is stored, bound to the user and the reference it belongs
// to, so a sealed embedding copied onto another user's row does not open.
import type { Sealer } from "@trustmesh/runtime";

function sealingContext(userId: string, referenceId: string): string {
  return `face-embedding:${userId}:${referenceId}`;
}

/** Little-endian float32s, whatever the machine's byte order. */
function toBytes(embedding: Float32Array): Uint8Array {
  const bytes = new Uint8Array(embedding.length * 4);
  const view = new DataView(bytes.buffer);
  for (const [index, value] of embedding.entries()) view.setFloat32(index * 4, value, true);
  return bytes;
}

function fromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new Error(`an embedding of ${bytes.length} bytes is not float32s`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.length / 4 }, (_, index) => view.getFloat32(index * 4, true));
}

export function sealEmbedding(sealer: Sealer, embedding: Float32Array, userId: string, referenceId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(sealer.seal(toBytes(embedding), sealingContext(userId, referenceId)));
}

export function openEmbedding(sealer: Sealer, sealed: Uint8Array, userId: string, referenceId: string): Float32Array {
  return fromBytes(sealer.open(sealed, sealingContext(userId, referenceId)));
}
