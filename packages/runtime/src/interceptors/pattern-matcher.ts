// protovalidate matches the contracts' `pattern` rules with RE2 written in
// JavaScript (@bufbuild/re2), by its documented contract: RE2 syntax and
// linear-time matching. That engine is the largest single cost of validating a
// request — a third of protovalidate's time on a ledger batch. The platform
// RegExp answers the same, far faster, for patterns that (1) use only syntax
// that means the same in RE2 and in ECMAScript and (2) cannot backtrack
// exponentially; the matcher here uses it for exactly those and RE2 for every
// other pattern. Patterns come from our own contracts, never from requests.
//
// (1) Allowed: literals, `^`, `$`, `|`, groups `( )`, bracket classes without
//     POSIX names, the quantifiers `* + ? {m} {m,} {m,n}`, and the escapes
//     `\xHH`, `\d` and escaped punctuation. Refused: `.` outside a class (RE2's
//     dot matches \r and U+2028, ECMAScript's does not), `\s`, `\b`, `\w`,
//     `\p` (their classes differ or are ASCII in one engine only), `(?` flags
//     and named groups, and anything the `u` flag rejects.
// (2) Refused: a repeated group that itself repeats (star height above one,
//     the shape of `(a+)+`), the cause of catastrophic backtracking.
import { RE2JS } from "@bufbuild/re2";

export type PatternMatcher = (pattern: string, against: string) => boolean;

const escapedPunctuation = new Set([..."\\^$.|?*+()[]{}/-"]);

/** True when the platform RegExp gives RE2's answers for `pattern` without risk of exponential backtracking. */
export function isPlatformSafePattern(pattern: string): boolean {
  // Per open group: does it contain a quantifier?
  const groups: boolean[] = [];
  let inClass = false;
  // What the next quantifier applies to: a group that contains one (unsafe to repeat) or anything else.
  let lastAtomRepeats = false;
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index] as string;
    if (character === "\\") {
      const next = pattern[index + 1];
      if (next === "x" && /^[0-9A-Fa-f]{2}$/.test(pattern.slice(index + 2, index + 4))) index += 3;
      else if (next === "d" || (next !== undefined && escapedPunctuation.has(next))) index += 1;
      else return false;
      lastAtomRepeats = false;
      continue;
    }
    if (inClass) {
      if (character === "[") return false; // POSIX classes such as [[:alpha:]]
      if (character === "]") inClass = false;
      continue;
    }
    switch (character) {
      case "[":
        inClass = true;
        lastAtomRepeats = false;
        break;
      case "(":
        if (pattern[index + 1] === "?") return false;
        groups.push(false);
        break;
      case ")": {
        const containsQuantifier = groups.pop();
        if (containsQuantifier === undefined) return false;
        lastAtomRepeats = containsQuantifier;
        if (containsQuantifier && groups.length > 0) groups[groups.length - 1] = true;
        break;
      }
      case "*":
      case "+":
      case "{":
        if (lastAtomRepeats) return false;
        if (groups.length > 0) groups[groups.length - 1] = true;
        if (character === "{") {
          const close = pattern.indexOf("}", index);
          if (close < 0 || !/^\{\d+(,\d*)?\}$/.test(pattern.slice(index, close + 1))) return false;
          index = close;
        }
        break;
      case "?":
        // Optional, not repeated: `(a+)?` cannot backtrack exponentially.
        break;
      case ".":
        return false;
      default:
        lastAtomRepeats = false;
    }
  }
  if (inClass || groups.length > 0) return false;
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/**
 * A protovalidate regexMatch: the platform RegExp where it is safe (see above),
 * RE2 elsewhere; compiled once per pattern. The cache needs no bound: patterns
 * come from the compiled-in contracts only.
 */
export function createPatternMatcher(): PatternMatcher {
  const compiled = new Map<string, { test(against: string): boolean }>();
  return (pattern, against) => {
    let matcher = compiled.get(pattern);
    if (matcher === undefined) {
      matcher = isPlatformSafePattern(pattern) ? new RegExp(pattern, "u") : RE2JS.compile(pattern);
      compiled.set(pattern, matcher);
    }
    return matcher.test(against);
  };
}
