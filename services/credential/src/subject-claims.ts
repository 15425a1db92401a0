// The subject claims of a credential, built from IssueCredential's typed oneof.
// Protovalidate has already checked shapes; what it cannot check is here: a
// birth date that exists and is not in the future, and over_18, which is
// computed from it (never taken from the caller, so it cannot contradict it).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { IssueCredentialRequest } from "@trustmesh/api/trustmesh/credential/v1/credential_service_pb.js";
import { invalidArgument } from "@trustmesh/runtime";
import type { CredentialKind } from "./generated/prisma/enums.ts";

export interface SubjectClaims {
  kind: CredentialKind;
  claims: Record<string, string | boolean>;
}

/** A calendar date (no time zone: a date of birth is the same day everywhere). */
interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function parseCalendarDate(text: string): CalendarDate | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Date.UTC rolls 2001-02-30 over to March; a real date survives the round trip.
  const roundTrip = new Date(Date.UTC(year, month - 1, day));
  if (roundTrip.getUTCFullYear() !== year || roundTrip.getUTCMonth() !== month - 1 || roundTrip.getUTCDate() !== day) return undefined;
  return { year, month, day };
}

/** Whether someone born on `birth` is at least `years` old on `today` (birthdays on 29 February count from 1 March). */
export function isAtLeastYearsOld(birth: CalendarDate, today: CalendarDate, years: number): boolean {
  const age = today.year - birth.year - (today.month < birth.month || (today.month === birth.month && today.day < birth.day) ? 1 : 0);
  return age >= years;
}

function calendarDateOf(instant: Date): CalendarDate {
  return { year: instant.getUTCFullYear(), month: instant.getUTCMonth() + 1, day: instant.getUTCDate() };
}

function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** The claims of the request's oneof; throws INVALID_ARGUMENT naming the field when they cannot be issued. */
export function subjectClaimsOf(request: IssueCredentialRequest, now: Date): SubjectClaims {
  const claims = request.claims;
  switch (claims.case) {
    case "email":
      return {
        kind: "VERIFIED_EMAIL",
        claims: {
          email: claims.value.email,
          ...(claims.value.verifiedAt ? { verified_at: timestampDate(claims.value.verifiedAt).toISOString() } : {}),
        },
      };
    case "phone":
      return {
        kind: "VERIFIED_PHONE",
        claims: {
          phone_number: claims.value.phoneNumber,
          ...(claims.value.verifiedAt ? { verified_at: timestampDate(claims.value.verifiedAt).toISOString() } : {}),
        },
      };
    case "identity": {
      const birth = parseCalendarDate(claims.value.birthDate);
      if (!birth) throw invalidArgument("identity.birth_date", "is not a calendar date that exists");
      const today = calendarDateOf(now);
      if (compareDates(birth, today) > 0) throw invalidArgument("identity.birth_date", "is in the future");
      return {
        kind: "VERIFIED_IDENTITY",
        claims: {
          given_name: claims.value.givenName,
          family_name: claims.value.familyName,
          birthdate: claims.value.birthDate,
          over_18: isAtLeastYearsOld(birth, today, 18),
        },
      };
    }
    default:
      throw invalidArgument("claims", "one of email, phone or identity is required");
  }
}
