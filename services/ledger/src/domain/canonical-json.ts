// The canonical encoding hashed into the chain: JSON with object keys sorted by
// UTF-16 code units and no insignificant whitespace. Every value is a string,
// an array or an object — numbers, amounts, timestamps and bytes are written as
// strings first — so the output equals RFC 8785 (JCS) for these documents and
// never depends on float formatting. Thirty lines do not justify a dependency.

export type CanonicalValue = string | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

export function canonicalJson(value: CanonicalValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: CanonicalValue) => canonicalJson(item)).join(",")}]`;
  const object = value as { readonly [key: string]: CanonicalValue };
  // Array.prototype.sort without a comparator orders by UTF-16 code units, as JCS requires.
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key] as CanonicalValue)}`).join(",")}}`;
}

// JSON.stringify(text) for the strings the ledger's documents almost always
// hold — ids, names, keys, ISO times: with no character JSON escapes (quote,
// backslash, control characters, and UTF-16 surrogates, which JSON.stringify
// escapes when unpaired) the literal is the text in quotes, found by one
// regular expression test at about a third of JSON.stringify's cost. Anything
// else goes through JSON.stringify. For the hand-written encoders on the hot
// path; canonicalJson above stays their definition.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what JSON escapes.
const plainText = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify(text), fast for plain text. */
export function jsonString(text: string): string {
  return plainText.test(text) ? `"${text}"` : JSON.stringify(text);
}
