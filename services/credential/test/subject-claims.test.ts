// Goal: identity claims are issued only for dates of birth that exist and are
// not in the future, and over_18 is computed from the date of birth on the day
// of issuance, to the day (a birthday on 29 February counts from 1 March in
// other years); an email address is attested exactly as verified.
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { IssueCredentialRequestSchema } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import { DomainError } from "@trustmesh/runtime";
import { subjectClaimsOf } from "../src/subject-claims.ts";

const identity = (birthDate: string) =>
  create(IssueCredentialRequestSchema, { claims: { case: "identity", value: { givenName: "Ada", familyName: "Lovelace", birthDate } } });

describe("subject claims", () => {
  const today = new Date("2026-06-15T12:00:00Z");

  it("computes over_18 to the day", () => {
    assert.equal(subjectClaimsOf(identity("2008-06-15"), today).claims.over_18, true, "18 today");
    assert.equal(subjectClaimsOf(identity("2008-06-16"), today).claims.over_18, false, "18 tomorrow");
    assert.equal(subjectClaimsOf(identity("1990-01-01"), today).claims.over_18, true);
    const leapling = identity("2008-02-29");
    assert.equal(subjectClaimsOf(leapling, new Date("2026-02-28T12:00:00Z")).claims.over_18, false);
    assert.equal(subjectClaimsOf(leapling, new Date("2026-03-01T12:00:00Z")).claims.over_18, true);
  });

  it("refuses impossible and future dates of birth, naming the field", () => {
    for (const birthDate of ["2001-02-29", "2001-02-30", "2026-06-16"]) {
      assert.throws(
        () => subjectClaimsOf(identity(birthDate), today),
        (error: DomainError) => error instanceof DomainError && error.violations[0]?.field === "identity.birth_date",
        birthDate,
      );
    }
  });

  it("keeps an email address as given (its local part may be case-sensitive) and verified_at as an ISO instant", () => {
    const request = create(IssueCredentialRequestSchema, {
      claims: { case: "email", value: { email: "Ada@Example.COM", verifiedAt: { seconds: 1_750_000_000n, nanos: 0 } } },
    });
    assert.deepEqual(subjectClaimsOf(request, today), {
      kind: "VERIFIED_EMAIL",
      claims: { email: "Ada@Example.COM", verified_at: "2025-06-15T15:06:40.000Z" },
    });
  });
});
