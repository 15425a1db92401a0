// Goal: a face embedding is stored only sealed, opens to the same values, and
// does not open for another user or another reference.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createSealer } from "@trustmesh/runtime";
import { openEmbedding, sealEmbedding } from "../src/embedding.ts";

describe("sealed embeddings", () => {
  const sealer = createSealer(new Map([["k1", randomBytes(32)]]), "k1");
  const embedding = Float32Array.from({ length: 1024 }, (_, index) => Math.sin(index) * 0.1);
  const [userId, referenceId] = [randomUUID(), randomUUID()];

  it("opens to exactly the embedding that was sealed, and hides it at rest", () => {
    const sealed = sealEmbedding(sealer, embedding, userId, referenceId);
    assert.deepEqual(openEmbedding(sealer, sealed, userId, referenceId), embedding);
    const plain = Buffer.from(embedding.buffer);
    assert.equal(Buffer.from(sealed).indexOf(plain.subarray(0, 64)), -1, "no plain embedding bytes in the sealed form");
  });

  it("does not open for another user or another reference", () => {
    const sealed = sealEmbedding(sealer, embedding, userId, referenceId);
    assert.throws(() => openEmbedding(sealer, sealed, randomUUID(), referenceId));
    assert.throws(() => openEmbedding(sealer, sealed, userId, randomUUID()));
  });
});
