// Array parameters in PostgreSQL's binary format (array_recv), for the batch
// write's UUID and time columns. pg sends a Buffer parameter in the binary
// format, and PostgreSQL then reads each element as its fixed-width bytes
// instead of parsing text: uuid_in converts every pair of hex digits with
// strtoul and timestamptz_in parses a date, about 0.75 and 0.45 µs of the
// backend's CPU per element, where the binary forms cost about 0.1 µs
// (measured in services/ledger/README.md, "Session 18").
// A batch of 1000 transfers sends about 12,000 UUIDs and 3,000 times.
//
// The format (PostgreSQL's src/backend/utils/adt/arrayfuncs.c, array_send):
// int32 number of dimensions (0 for an empty array), int32 flags (1 when
// there is a null), int32 element type OID, then per dimension int32 length
// and int32 lower bound (1), then per element int32 byte length (-1 for null)
// and the element's binary form. All integers are big-endian.

/** Element type OIDs (pg_type.dat): fixed since PostgreSQL's first binary release. */
const uuidOid = 2950;
const timestamptzOid = 1184;

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
 * the first element. Every element of these types has the same width.
 */
function arrayStart(elementType: number, count: number, hasNull: boolean, elementBytes: number): [Buffer, number] {
  if (count === 0) {
    const empty = Buffer.alloc(emptyHeaderBytes);
    empty.writeInt32BE(elementType, 8);
    return [empty, emptyHeaderBytes];
  }
  const buffer = Buffer.allocUnsafe(headerBytes + count * (4 + elementBytes));
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
  const [buffer, start] = arrayStart(uuidOid, values.length, values.includes(null), 16);
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
  const [buffer, start] = arrayStart(timestamptzOid, values.length, values.includes(null), 8);
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
