// Finds lab results in the text of a report: one result per line, a test name
// followed by a value, a unit, a printed reference range and a printed flag in
// the orders labs print them ("Glucose 142 mg/dL 70-99 H", "Sodium: 140 (135-145)
// mmol/L"). Names from the built-in catalog are recognised with their LOINC code;
// other names are accepted only with a known unit or a printed range, so headers,
// dates and page numbers are not mistaken for results.
import { type CatalogTest, matchTestName } from "./catalog.ts";
import { knownUnitPattern, toUcum } from "./units.ts";

/** One line of extracted text, with the OCR engine's confidence (0-1) when it was read by OCR. */
export interface TextLine {
  text: string;
  confidence?: number;
}

export interface PrintedRange {
  low?: number;
  high?: number;
  /** For qualitative ranges such as "Negative". */
  qualitative?: string;
  /** The range as printed. */
  text: string;
}

export interface ParsedRow {
  /** The test name as printed. */
  testName: string;
  test?: CatalogTest;
  valueText: string;
  value?: number;
  comparator: "" | "<" | "<=" | ">=" | ">";
  /** The unit as printed; empty when none was. */
  unit: string;
  ucumUnit?: string;
  printedRange?: PrintedRange;
  /** A flag the lab printed (H, L, HH, LL, A); empty when none. */
  printedFlag: string;
  /** Confidence of the line's reading, 1 for a PDF text layer. */
  lineConfidence: number;
}

export interface ParsedReport {
  rows: ParsedRow[];
  collectedAt?: Date;
  reportedAt?: Date;
  /** Lines that looked like they could hold a result (letters and digits, not metadata). */
  candidateLineCount: number;
}

const number = String.raw`[-+]?\d+(?:[.,]\d+)?`;
const qualitative = "non[- ]?reactive|not detected|positive|negative|reactive|detected|trace|normal|abnormal";
const comparator = "<=|>=|≤|≥|<|>";
const flagToken = String.raw`HH|LL|H|L|HIGH|LOW|CRITICAL|CRIT|ABN|A|\*{1,2}`;
const unitToken = String.raw`(?:${knownUnitPattern}|(?!(?:${qualitative})\b)[A-Za-zµμ%][A-Za-z0-9µμ%/.*^\[\]{}_-]*)`;
const rangePart = String.raw`\(?\s*(?:(?<rlow>${number})\s*(?:-|–|—|to)\s*(?<rhigh>${number})|(?<rcmp>${comparator})\s*(?<rbound>${number})|(?<rqual>${qualitative}))\s*\)?`;

/** What follows a test name: value, then unit, range and flag in any of the usual orders. */
const remainderPattern = new RegExp(
  String.raw`^(?<cmp>${comparator})?\s*(?<value>${number}|${qualitative})\s*(?:(?<flag1>${flagToken})\s+)?(?<unit1>${unitToken})?\s*(?:${rangePart})?\s*(?<unit2>${unitToken})?\s*(?<flag2>${flagToken})?\s*$`,
  "i",
);

/** A name not in the catalog: letters first, then letters, digits and light punctuation. */
const genericNamePattern = /^[A-Za-z][A-Za-z0-9 ,/'()-]*[A-Za-z)]$/;
/**
 * Where such a name may end: after a letter or bracket, before something that
 * looks like a value. A name can hold digits ("HIV 1/2 Antibody"), so each such
 * place is tried, shortest name first.
 */
const genericNameEndPattern = /(?<=[A-Za-z)])\s*:?\s+(?=[<>≤≥]?\s*[-+]?\d|positive|negative|reactive|non|detected|not detected)/gi;
/** Name ends tried per line at most, so a long line costs bounded work. */
const genericNameEndsMax = 8;

/** Lines about the patient or the report rather than results. */
const metadataPattern =
  /\b(date|collected|collection|reported|received|issued|page|dob|birth|age|sex|gender|patient|name|account|mrn|phone|fax|address|physician|doctor|specimen|id|no\.)\b/i;

const flagWords: ReadonlyMap<string, string> = new Map([
  ["h", "H"],
  ["high", "H"],
  ["l", "L"],
  ["low", "L"],
  ["hh", "HH"],
  ["ll", "LL"],
  ["critical", "A"],
  ["crit", "A"],
  ["a", "A"],
  ["abn", "A"],
  ["*", "A"],
  ["**", "A"],
]);

function toNumber(text: string): number {
  // A decimal comma ("5,4") as printed in much of Europe.
  return Number(/^[-+]?\d+,\d{1,3}$/.test(text) && !/^[-+]?\d{1,3},\d{3}$/.test(text) ? text.replace(",", ".") : text.replace(",", ""));
}

function normalizeComparator(text: string | undefined): ParsedRow["comparator"] {
  switch (text) {
    case "<":
      return "<";
    case ">":
      return ">";
    case "<=":
    case "≤":
      return "<=";
    case ">=":
    case "≥":
      return ">=";
    default:
      return "";
  }
}

function parseRemainder(testName: string, test: CatalogTest | undefined, remainder: string, lineConfidence: number): ParsedRow | undefined {
  const match = remainderPattern.exec(remainder.trim());
  const groups = match?.groups;
  if (!groups?.value) return undefined;
  // A lone "H" or "L" where a unit could stand is a flag, not a unit.
  let printedFlag = flagWords.get((groups.flag1 ?? groups.flag2 ?? "").toLowerCase()) ?? "";
  let unit = "";
  for (const candidate of [groups.unit1, groups.unit2]) {
    const token = candidate?.trim() ?? "";
    if (token === "") continue;
    const asFlag = flagWords.get(token.toLowerCase());
    if (asFlag !== undefined && toUcum(token) === undefined) printedFlag ||= asFlag;
    else unit ||= token;
  }
  const ucumUnit = toUcum(unit);
  let printedRange: PrintedRange | undefined;
  if (groups.rlow !== undefined && groups.rhigh !== undefined) {
    printedRange = { low: toNumber(groups.rlow), high: toNumber(groups.rhigh), text: `${groups.rlow}-${groups.rhigh}` };
  } else if (groups.rcmp !== undefined && groups.rbound !== undefined) {
    const bound = toNumber(groups.rbound);
    const upper = groups.rcmp.startsWith("<") || groups.rcmp === "≤";
    printedRange = { ...(upper ? { high: bound } : { low: bound }), text: `${groups.rcmp}${groups.rbound}` };
  } else if (groups.rqual !== undefined) {
    printedRange = { qualitative: groups.rqual.toLowerCase(), text: groups.rqual };
  }
  const numeric = /^[-+]?\d/.test(groups.value);
  // A name outside the catalog counts only with a known unit or a printed range.
  if (!test && ucumUnit === undefined && printedRange === undefined) return undefined;
  return {
    testName: testName.trim(),
    test,
    valueText: `${groups.cmp ?? ""}${groups.value}`,
    ...(numeric ? { value: toNumber(groups.value) } : {}),
    comparator: normalizeComparator(groups.cmp),
    unit,
    ...(ucumUnit === undefined ? {} : { ucumUnit }),
    ...(printedRange === undefined ? {} : { printedRange }),
    printedFlag,
    lineConfidence,
  };
}

/** One result from one line, or undefined when the line holds none. */
export function parseLine(line: TextLine): ParsedRow | undefined {
  const text = line.text.replace(/\s+/g, " ").trim();
  const confidence = line.confidence ?? 1;
  const known = matchTestName(text);
  if (known) {
    // The printed name may go on past the alias, as in "Glucose (serum):".
    const rest = text.slice(known.nameLength);
    const extra = /^(\s*\([^)]*\))?\s*:?/.exec(rest)?.[0] ?? "";
    const parsed = parseRemainder(
      text.slice(0, known.nameLength + extra.length).replace(/:$/, ""),
      known.test,
      rest.slice(extra.length),
      confidence,
    );
    if (parsed) return parsed;
  }
  let tried = 0;
  for (const end of text.matchAll(genericNameEndPattern)) {
    if (++tried > genericNameEndsMax) break;
    const name = text.slice(0, end.index);
    if (!genericNamePattern.test(name)) continue;
    // A longer name would still hold the metadata word.
    if (metadataPattern.test(name)) return undefined;
    const parsed = parseRemainder(name, undefined, text.slice(end.index + end[0].length), confidence);
    if (parsed) return parsed;
  }
  return undefined;
}

function findDate(lines: readonly TextLine[], label: RegExp): Date | undefined {
  for (const { text } of lines) {
    if (!label.test(text)) continue;
    const match = /(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?/.exec(text);
    if (!match) continue;
    const [, year, month, day, hour = "00", minute = "00"] = match;
    const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:00Z`);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return undefined;
}

export function parseReport(lines: readonly TextLine[]): ParsedReport {
  const rows: ParsedRow[] = [];
  let candidateLineCount = 0;
  for (const line of lines) {
    const text = line.text.trim();
    if (/[A-Za-z]/.test(text) && /\d/.test(text) && !metadataPattern.test(text)) candidateLineCount++;
    const row = parseLine(line);
    if (row) rows.push(row);
  }
  const collectedAt = findDate(lines, /\b(collected|collection|drawn|specimen date)\b/i);
  const reportedAt = findDate(lines, /\b(reported|report date|issued|resulted)\b/i);
  return {
    rows,
    ...(collectedAt ? { collectedAt } : {}),
    ...(reportedAt ? { reportedAt } : {}),
    // A recognised row on a metadata-looking line still counts as a candidate.
    candidateLineCount: Math.max(candidateLineCount, rows.length),
  };
}
