// Contacts: email addresses are compared lower-cased; phone numbers must be
// valid E.164 numbers for their country, checked with libphonenumber-js's full
// metadata (the proto's pattern only checks the shape).
import { invalidArgument } from "@trustmesh/runtime";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import type { ContactField } from "./store.ts";

export type ContactChannel = "email" | "phone";

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The number in E.164 form; throws INVALID_ARGUMENT naming the field when it is not a valid number. */
export function normalizePhoneNumber(field: string, phoneNumber: string): string {
  const parsed = parsePhoneNumberFromString(phoneNumber);
  if (!parsed?.isValid()) throw invalidArgument(field, "is not a valid phone number in E.164 form", "INVALID_PHONE_NUMBER");
  return parsed.number;
}

export interface IdentifiedContact {
  channel: ContactChannel;
  /** Normalized. */
  contact: string;
  /** The user_account column that holds it. */
  field: ContactField;
  /** How messages reach it. */
  delivery: "email" | "sms";
}

/** The contact of a request's identifier oneof, normalized. */
export function contactOf(
  identifier: { case: "email"; value: string } | { case: "phoneNumber"; value: string } | { case: undefined; value?: undefined },
): IdentifiedContact {
  if (identifier.case === "email")
    return { channel: "email", contact: normalizeEmail(identifier.value), field: "email", delivery: "email" };
  if (identifier.case === "phoneNumber") {
    const contact = normalizePhoneNumber("phone_number", identifier.value);
    return { channel: "phone", contact, field: "phoneNumber", delivery: "sms" };
  }
  throw invalidArgument("identifier", "email or phone_number is required");
}
