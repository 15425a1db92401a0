// Goal: envelope encryption keeps documents private and tamper-evident: each
// document gets a fresh data key (two seals of the same bytes share neither key
// nor ciphertext), the stored bytes hold no plaintext, and opening fails with
// the wrong key-encryption key, with tampered ciphertext or a tampered wrapped
// key, or under another document's id; a rotated KEK ring still opens old
// documents.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSealer } from "@trustmesh/runtime";
import { openDocument, sealDocument } from "../src/documents/envelope.ts";

const document = Buffer.from("%PDF-1.7\nZEPHYR PATHOLOGY Glucose, fasting 187 mg/dL 70 - 99\n".repeat(20));

function keyEncryptionKey(id: string, key = randomBytes(32)) {
  return createSealer(new Map([[id, key]]), id);
}

describe("envelope encryption of documents", () => {
  const kek = keyEncryptionKey("kek-1");

  it("opens what it sealed", () => {
    const sealed = sealDocument(document, "doc-1", kek);
    assert.deepEqual(openDocument(sealed, "doc-1", kek), document);
  });

  it("uses a fresh data key for every document, so no two seals share a key or ciphertext", () => {
    const first = sealDocument(document, "doc-1", kek);
    const second = sealDocument(document, "doc-1", kek);
    const firstKey = kek.open(first.sealedDataKey, "data-key:doc-1");
    const secondKey = kek.open(second.sealedDataKey, "data-key:doc-1");
    assert.equal(firstKey.length, 32, "AES-256 data key");
    assert.notDeepEqual(firstKey, secondKey);
    assert.notDeepEqual(first.ciphertext, second.ciphertext);
    // The document is sealed by the data key, not by the KEK directly.
    assert.throws(() => kek.open(first.ciphertext, "document:doc-1"));
  });

  it("stores no plaintext: neither the file header nor any text of the report", () => {
    const { ciphertext, sealedDataKey } = sealDocument(document, "doc-1", kek);
    for (const stored of [ciphertext, sealedDataKey]) {
      assert.ok(!stored.includes(Buffer.from("%PDF")));
      assert.ok(!stored.includes(Buffer.from("Glucose")));
      assert.ok(!stored.includes(Buffer.from("ZEPHYR")));
    }
    // Ciphertext is the plaintext's length plus the seal's header, nonce and tag, no more.
    assert.ok(ciphertext.length > document.length && ciphertext.length < document.length + 64);
  });

  it("fails with the wrong key-encryption key, even under the same key id", () => {
    const sealed = sealDocument(document, "doc-1", kek);
    assert.throws(() => openDocument(sealed, "doc-1", keyEncryptionKey("kek-1")));
    assert.throws(() => openDocument(sealed, "doc-1", keyEncryptionKey("kek-2")));
  });

  it("fails when one byte of the ciphertext or of the wrapped key is changed", () => {
    const sealed = sealDocument(document, "doc-1", kek);
    for (const index of [sealed.ciphertext.length >> 1, sealed.ciphertext.length - 1]) {
      const tampered = Buffer.from(sealed.ciphertext);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      assert.throws(() => openDocument({ ...sealed, ciphertext: tampered }, "doc-1", kek), `byte ${index}`);
    }
    const tamperedKey = Buffer.from(sealed.sealedDataKey);
    tamperedKey[tamperedKey.length - 20] = (tamperedKey[tamperedKey.length - 20] ?? 0) ^ 0x80;
    assert.throws(() => openDocument({ ...sealed, sealedDataKey: tamperedKey }, "doc-1", kek));
    assert.throws(() => openDocument({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, -1) }, "doc-1", kek), "truncated");
  });

  it("fails under another document's id, so sealed rows cannot be swapped", () => {
    const sealed = sealDocument(document, "doc-1", kek);
    assert.throws(() => openDocument(sealed, "doc-2", kek));
    // Nor can one document's ciphertext be paired with another's key.
    const other = sealDocument(document, "doc-2", kek);
    assert.throws(() => openDocument({ sealedDataKey: other.sealedDataKey, ciphertext: sealed.ciphertext }, "doc-1", kek));
  });

  it("still opens old documents after the KEK rotates, while new ones use the new key", () => {
    const oldKey = randomBytes(32);
    const before = sealDocument(document, "doc-1", keyEncryptionKey("kek-1", oldKey));
    const rotated = createSealer(
      new Map([
        ["kek-1", oldKey],
        ["kek-2", randomBytes(32)],
      ]),
      "kek-2",
    );
    assert.deepEqual(openDocument(before, "doc-1", rotated), document);
    const after = sealDocument(document, "doc-3", rotated);
    assert.throws(() => openDocument(after, "doc-3", keyEncryptionKey("kek-1", oldKey)), "the old key alone cannot open new documents");
  });
});
