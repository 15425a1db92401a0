// Units as laboratories print them, mapped to UCUM codes (what FHIR Quantity.code
// carries). Printed units vary in case, spacing and notation ("K/uL", "x10^3/µL",
// "10*3/uL" are one unit), so each is reduced to a key before lookup.

/** Printed spellings (after normalizeUnitKey) → UCUM code. */
const ucumByKey: ReadonlyMap<string, string> = new Map([
  ["mg/dl", "mg/dL"],
  ["g/dl", "g/dL"],
  ["g/l", "g/L"],
  ["mg/l", "mg/L"],
  ["mmol/l", "mmol/L"],
  ["meq/l", "meq/L"],
  ["umol/l", "umol/L"],
  ["nmol/l", "nmol/L"],
  ["pmol/l", "pmol/L"],
  ["%", "%"],
  ["u/l", "U/L"],
  ["iu/l", "U/L"],
  ["miu/l", "m[IU]/L"],
  ["uiu/ml", "u[IU]/mL"],
  ["miu/ml", "m[IU]/mL"],
  ["ng/ml", "ng/mL"],
  ["pg/ml", "pg/mL"],
  ["ng/dl", "ng/dL"],
  ["ug/dl", "ug/dL"],
  ["ug/l", "ug/L"],
  ["fl", "fL"],
  ["pg", "pg"],
  ["10^3/ul", "10*3/uL"],
  ["k/ul", "10*3/uL"],
  ["thou/ul", "10*3/uL"],
  ["10^9/l", "10*9/L"],
  ["10^6/ul", "10*6/uL"],
  ["m/ul", "10*6/uL"],
  ["mill/ul", "10*6/uL"],
  ["10^12/l", "10*12/L"],
  ["ml/min/1.73m2", "mL/min/{1.73_m2}"],
  ["ml/min", "mL/min"],
  ["s", "s"],
  ["sec", "s"],
]);

/**
 * Reduces a printed unit to a lookup key: lower case, no spaces, micro as "u",
 * "mcg" as "ug", powers of ten written one way ("x10^3", "10*3", "10e3" → "10^3").
 */
export function normalizeUnitKey(printed: string): string {
  return printed
    .trim()
    .toLowerCase()
    .replace(/\s+/g, "")
    .replace(/[µμ]/g, "u")
    .replace(/mcg/g, "ug")
    .replace(/^(?:x|×)?10(?:\^|\*|e)(\d+)/, "10^$1")
    .replace(/²/g, "2");
}

/** The UCUM code of a printed unit; undefined when it is not known. */
export function toUcum(printed: string): string | undefined {
  if (printed.trim() === "") return undefined;
  return ucumByKey.get(normalizeUnitKey(printed));
}

/**
 * Printed spellings the report parser recognises as units, longest first, so a
 * unit beginning with digits ("10^3/uL") is taken whole rather than as a number.
 */
export const knownUnitPattern: string = [
  "x?10\\s*[\\^*eE]\\s*\\d+\\s*/\\s*[uµμ]?[lL]",
  "[×x]10\\s*[\\^*]\\s*\\d+\\s*/\\s*[uµμ]?[lL]",
  "mL/min/1\\.73\\s*m(?:2|²)",
].join("|");
