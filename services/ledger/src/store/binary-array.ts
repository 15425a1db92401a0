// Array parameters in PostgreSQL's binary format (array_recv), for the batch
// write. pg sends a Buffer parameter in the binary format, and PostgreSQL then
// reads each element as its bytes instead of parsing text. What an element
// costs PostgreSQL to read, text against binary (services/ledger/README.md,
// "Session 18" and "Session 21"): a uuid 0.79 against 0.14 µs, a timestamptz
// 0.46 against about 0.1, a 32-byte bytea (hex) about 1.0 against 0.1, a short
// text about 0.4-0.6 (pg quotes and escapes each one, PostgreSQL unquotes it)
// against 0.12, a numeric 0.21 against 0.14 and an int8 0.12 against 0.07.
// A batch of 1000 transfers sends about 12,000 UUIDs, 3,000 times, 3,000
// hashes, 8,000 texts and 9,000 numbers. Enum arrays stay text: an enum's type
// OID is the database's own, and enum_recv reads the label as text anyway.
//
// The format (PostgreSQL's src/backend/utils/adt/arrayfuncs.c, array_send):
// int32 number of dimensions (0 for an empty array), int32 flags (1 when
// there is a null), int32 element type OID, then per dimension int32 length
// and int32 lower bound (1), then per element int32 byte length (-1 for null)
// and the element's binary form (its type's _send function). All integers are
// big-endian.

/** Element type OIDs (pg_type.dat): fixed since PostgreSQL's first binary release. */
const uuidOid = 2950;
const timestamptzOid = 1184;
const textOid = 25;
const byteaOid = 17;
const int8Oid = 20;
const int4Oid = 23;
const numericOid = 1700;

const headerBytes = 20;
const emptyHeaderBytes = 12;
const nullLength = -1;

// 2000-01-01T00:00:00Z, PostgreSQL's epoch for timestamps, in Unix milliseconds.
const postgresEpochMs = 946_684_800_000;

// The value of each hex digit's character code, -1 for any other character.
const hexValue = new Int8Array(128).fill(-1);
for (let digit = 0; digit < 16; digit++) {
  hexValue[digit.toString(16).charCodeAt(0)] = digit;
  hexValue[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}
const uuidLength = 36;
const uuidDashes = [8, 13, 18, 23];
// Where each of the 16 bytes' two hex digits start in the 8-4-4-4-12 form.
const uuidBytePositions = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * Writes one element array's header and returns the buffer and the offset of
 * the first element. `bodyBytes` is the most the elements may take, their
 * length words included (fixed-width types: every element at full width).
 */
function arrayStart(elementType: number, count: number, hasNull: boolean, bodyBytes: number): [Buffer, number] {
  if (count === 0) {
    const empty = Buffer.alloc(emptyHeaderBytes);
    empty.writeInt32BE(elementType, 8);
    return [empty, emptyHeaderBytes];
  }
  const buffer = Buffer.allocUnsafe(headerBytes + bodyBytes);
  buffer.writeInt32BE(1, 0);
  buffer.writeInt32BE(hasNull ? 1 : 0, 4);
  buffer.writeInt32BE(elementType, 8);
  buffer.writeInt32BE(count, 12);
  buffer.writeInt32BE(1, 16);
  return [buffer, headerBytes];
}

/** The exact size of the array: null elements take only their length word. */
function trimmed(buffer: Buffer, end: number): Buffer {
  return end === buffer.length ? buffer : buffer.subarray(0, end);
}

/**
 * A uuid[] parameter. Each value must be a UUID in its 8-4-4-4-12 hex form
 * (either case), or null; anything else is refused rather than sent as other
 * bytes than it names.
 */
export function uuidArray(values: readonly (string | null)[]): Buffer {
  const [buffer, start] = arrayStart(uuidOid, values.length, values.includes(null), values.length * (4 + 16));
  // The texts are copied out together and their bytes read: indexing the
  // characters of the ids the ledger builds (concatenated strings) one by one
  // is several times slower. Any character outside ASCII takes more than one
  // byte, so the length matches only for UUID-long ASCII texts.
  const present = values.filter((value) => value !== null);
  const text = textBytes(present.join(""));
  if (text.length !== present.length * uuidLength || present.some((value) => value.length !== uuidLength)) {
    throw notUuid(present.find((value) => value.length !== uuidLength || Buffer.byteLength(value) !== uuidLength));
  }
  let offset = start;
  let textOffset = 0;
  for (const value of values) {
    if (value === null) {
      offset = buffer.writeInt32BE(nullLength, offset);
      continue;
    }
    offset = buffer.writeInt32BE(16, offset);
    if (!uuidBytes(text, textOffset, buffer, offset)) throw notUuid(value);
    offset += 16;
    textOffset += uuidLength;
  }
  return trimmed(buffer, offset);
}

// One buffer for the texts of every array, grown as needed: each service
// process sets Buffer.poolSize = 0 (packages/runtime/src/buffer-pool.ts), so
// a fresh buffer per array would be an ArrayBuffer of its own.
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** The UTF-8 bytes of text, in the shared scratch buffer (valid until the next call). */
function textBytes(text: string): Buffer {
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  if (text.length * 3 > scratch.length) scratch = Buffer.allocUnsafeSlow(text.length * 3);
  return scratch.subarray(0, scratch.write(text, 0, "utf8"));
}

const notUuid = (value: string | undefined) => new Error(`ledger: ${JSON.stringify(value)} is not a UUID`);

/** Writes the 16 bytes of the UUID text at text[from] to buffer[offset]; false when it is not a UUID's text form. */
function uuidBytes(text: Buffer, from: number, buffer: Buffer, offset: number): boolean {
  for (const dash of uuidDashes) if (text[from + dash] !== 0x2d) return false;
  for (let byte = 0; byte < 16; byte++) {
    const position = from + (uuidBytePositions[byte] ?? 0);
    const high = hexValue[text[position] ?? 0] ?? -1;
    const low = hexValue[text[position + 1] ?? 0] ?? -1;
    if (high < 0 || low < 0) return false;
    buffer[offset + byte] = (high << 4) | low;
  }
  return true;
}

/**
 * A timestamptz[] parameter: microseconds since PostgreSQL's epoch, as
 * PostgreSQL stores them (a Date's milliseconds are exact in microseconds).
 */
export function timestampArray(values: readonly (Date | null)[]): Buffer {
  const [buffer, start] = arrayStart(timestamptzOid, values.length, values.includes(null), values.length * (4 + 8));
  let offset = start;
  for (const value of values) {
    if (value === null) {
      offset = buffer.writeInt32BE(nullLength, offset);
      continue;
    }
    // Exact as a number within ±2^53 µs (about ±285 years of 2000); written as
    // two 32-bit halves, with no BigInt per element.
    const micros = (value.getTime() - postgresEpochMs) * 1000;
    if (!Number.isSafeInteger(micros)) throw new Error(`ledger: ${value.toString()} cannot be sent as an exact timestamp`);
    const high = Math.floor(micros / 2 ** 32);
    offset = buffer.writeInt32BE(8, offset);
    offset = buffer.writeInt32BE(high, offset);
    offset = buffer.writeUInt32BE(micros - high * 2 ** 32, offset);
  }
  return trimmed(buffer, offset);
}

/** An int8[] parameter; a value outside the signed 64-bit range is refused (RangeError). */
export function int8Array(values: readonly bigint[]): Buffer {
  const [buffer, start] = arrayStart(int8Oid, values.length, false, values.length * (4 + 8));
  let offset = start;
  for (const value of values) {
    offset = buffer.writeInt32BE(8, offset);
    offset = buffer.writeBigInt64BE(value, offset);
  }
  return buffer;
}

/** An int4[] parameter; a value that is not a signed 32-bit integer is refused (RangeError). */
export function int4Array(values: readonly number[]): Buffer {
  const [buffer, start] = arrayStart(int4Oid, values.length, false, values.length * (4 + 4));
  let offset = start;
  for (const value of values) {
    if (!Number.isInteger(value)) throw new RangeError(`ledger: ${value} is not an integer`);
    offset = buffer.writeInt32BE(4, offset);
    offset = buffer.writeInt32BE(value, offset);
  }
  return buffer;
}

/**
 * A text[] parameter, each text as its UTF-8 bytes, or null. PostgreSQL
 * refuses a text holding U+0000 (it cannot store one), as it does in the
 * text format.
 */
export function textArray(values: readonly (string | null)[]): Buffer {
  let bodyBytes = 0;
  for (const value of values) bodyBytes += value === null ? 4 : 4 + value.length * 3;
  const [buffer, start] = arrayStart(textOid, values.length, values.includes(null), bodyBytes);
  let offset = start;
  for (const value of values) {
    if (value === null) {
      offset = buffer.writeInt32BE(nullLength, offset);
      continue;
    }
    // A UTF-16 code unit takes at most 3 bytes in UTF-8, so the text fits; its length word is written once its size is known.
    const written = buffer.write(value, offset + 4, "utf8");
    buffer.writeInt32BE(written, offset);
    offset += 4 + written;
  }
  return trimmed(buffer, offset);
}

/** A bytea[] parameter: each buffer's bytes as they are. */
export function byteaArray(values: readonly Buffer[]): Buffer {
  let bodyBytes = 0;
  for (const value of values) bodyBytes += 4 + value.length;
  const [buffer, start] = arrayStart(byteaOid, values.length, false, bodyBytes);
  let offset = start;
  for (const value of values) {
    offset = buffer.writeInt32BE(value.length, offset);
    offset += value.copy(buffer, offset);
  }
  return buffer;
}

// numeric's binary form (src/backend/utils/adt/numeric.c, numeric_send): int16
// number of base-10000 digits, int16 weight (the power of 10000 of the first
// digit), int16 sign, int16 display scale, then the digits, most significant
// first. Zero has no digits.
const numericPositive = 0x0000;
const numericNegative = 0x4000;
const decimalDigitsPerNumericDigit = 4;

/** A numeric[] parameter of integers of any size (the ledger's amounts and balances). */
export function numericArray(values: readonly bigint[]): Buffer {
  const decimals = values.map((value) => (value < 0n ? -value : value).toString());
  let bodyBytes = 0;
  for (const decimal of decimals) bodyBytes += 4 + 8 + 2 * numericDigitCount(decimal);
  const [buffer, start] = arrayStart(numericOid, values.length, false, bodyBytes);
  let offset = start;
  for (let index = 0; index < decimals.length; index++) {
    const decimal = decimals[index] as string;
    const digits = numericDigitCount(decimal);
    offset = buffer.writeInt32BE(8 + 2 * digits, offset);
    offset = buffer.writeInt16BE(digits, offset);
    offset = buffer.writeInt16BE(Math.max(digits - 1, 0), offset);
    offset = buffer.writeUInt16BE((values[index] as bigint) < 0n ? numericNegative : numericPositive, offset);
    offset = buffer.writeInt16BE(0, offset);
    if (digits === 0) continue;
    // The decimal digits in groups of four from the right, so the first group may be shorter.
    let from = 0;
    for (
      let end = decimal.length - (digits - 1) * decimalDigitsPerNumericDigit;
      end <= decimal.length;
      end += decimalDigitsPerNumericDigit
    ) {
      let digit = 0;
      for (; from < end; from++) digit = digit * 10 + (decimal.charCodeAt(from) - 48);
      offset = buffer.writeInt16BE(digit, offset);
    }
  }
  return buffer;
}

/** Base-10000 digits of a decimal integer without sign or leading zeros; none for zero. */
function numericDigitCount(decimal: string): number {
  return decimal === "0" ? 0 : Math.ceil(decimal.length / decimalDigitsPerNumericDigit);
}
