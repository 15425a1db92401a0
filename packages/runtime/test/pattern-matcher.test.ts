// Goal: validation answers exactly as RE2 would for every `pattern` rule in the
// contracts, while using the platform RegExp only where that is sound: the
// shapes whose meaning differs between the engines, and the shapes that
// backtrack exponentially, must stay with RE2.
import assert from "node:assert/strict";
import { type DescField, type DescMessage, getOption } from "@bufbuild/protobuf";
import { type FieldRules, field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { RE2JS } from "@bufbuild/re2";
import { trustmeshServices } from "@trustmesh/api";
import { createPatternMatcher, isPlatformSafePattern } from "../src/interceptors/pattern-matcher.ts";

function patternsOf(rules: FieldRules | undefined): string[] {
  if (rules === undefined) return [];
  const { type } = rules;
  if (type.case === "string") return type.value.pattern === undefined ? [] : [type.value.pattern];
  if (type.case === "repeated") return patternsOf(type.value.items);
  if (type.case === "map") return [...patternsOf(type.value.keys), ...patternsOf(type.value.values)];
  return [];
}

/** Every string pattern rule on any message any Trustmesh RPC accepts, nested ones included. */
function contractPatterns(): Set<string> {
  const patterns = new Set<string>();
  const seen = new Set<string>();
  const visit = (message: DescMessage) => {
    if (seen.has(message.typeName)) return;
    seen.add(message.typeName);
    for (const field of message.fields as DescField[]) {
      for (const pattern of patternsOf(getOption(field, fieldRules))) patterns.add(pattern);
      if (field.message !== undefined) visit(field.message);
    }
  };
  for (const service of Object.values(trustmeshServices)) for (const method of service.methods) visit(method.input);
  return patterns;
}

// Strings chosen to find where the engines part: line ends, U+2028, control and
// non-ASCII characters, empty, long, and ones each kind of pattern accepts.
const probes = [
  "",
  "a",
  "A1",
  "abc-DEF_0.9:z",
  "-leading",
  "payment:123e4567-e89b-12d3-a456-426614174000:reserve",
  "+14155550123",
  "+0123",
  "123456",
  "12345678901234567890",
  "line\nbreak",
  "carriage\rreturn",
  "sep\u2028arator",
  "tab\there",
  "nul\u0000",
  "del\u007f",
  "é",
  "😀",
  "a/b/c",
  "a//b",
  "x".repeat(300),
  `${"a".repeat(40)}!`,
  "lower-case-9",
  "Upper",
  "space inside",
];

describe("validation pattern matcher", () => {
  const patterns = contractPatterns();

  it("finds the contracts' patterns, and most run on the platform engine", () => {
    assert.ok(patterns.size >= 10, `only ${patterns.size} patterns found`);
    const platform = [...patterns].filter(isPlatformSafePattern);
    assert.ok(platform.length >= patterns.size / 2, `only ${platform.length} of ${patterns.size} are platform-safe`);
  });

  it("answers as RE2 does for every contract pattern on every probe", () => {
    const match = createPatternMatcher();
    for (const pattern of patterns) {
      const re2 = RE2JS.compile(pattern);
      for (const probe of probes) {
        assert.equal(match(pattern, probe), re2.test(probe), `${pattern} on ${JSON.stringify(probe)}`);
      }
    }
  });

  it("keeps RE2 for shapes whose meaning differs between the engines or that backtrack exponentially", () => {
    for (const pattern of [
      "^(a+)+$",
      "^(a|b*)*$",
      "^([a-z]+(/[a-z]+)*)?$",
      "^a.b$",
      "^\\s+$",
      "^\\bword$",
      "^\\w+$",
      "^\\p{L}+$",
      "^[[:alpha:]]+$",
      "(?i)^abc$",
      "(?P<name>x)",
      "^a\\z",
      "^a{2,$",
      "^(unclosed$",
      "^[unclosed$",
    ]) {
      assert.equal(isPlatformSafePattern(pattern), false, pattern);
    }
    for (const pattern of ["^[A-Za-z0-9][A-Za-z0-9._:-]*$", "^\\+[1-9][0-9]{6,14}$", "^[^\\x00-\\x1F\\x7F]*$", "^(ab)+c?$", "^(a|b)$"]) {
      assert.equal(isPlatformSafePattern(pattern), true, pattern);
    }
  });

  it("matches a pattern RE2 keeps through RE2", () => {
    const match = createPatternMatcher();
    // RE2's dot matches a carriage return; ECMAScript's does not.
    assert.equal(match("^a.b$", "a\rb"), true);
    assert.equal(match("^(a+)+$", `${"a".repeat(5000)}!`), false);
  });
});
