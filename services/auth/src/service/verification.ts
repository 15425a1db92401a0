// Email and phone verification: codes that prove control of a contact,
// either confirming a contact already on an account (public; same answer for
// every contact) or adding/changing the caller's contact (needs a token).
// Completing a code marks the contact verified and records a ContactVerified
// event in the outbox in the same transaction.
import { create, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { ContactKind, ContactVerifiedSchema, VerificationPurpose } from "@trustmesh/api/trustmesh/auth/v1/auth_pb.js";
import { normalizeEmail, normalizePhoneNumber } from "../contacts.ts";
import { contactInUseMessage, verificationCodeMessage } from "../messages.ts";
import type { ContactField } from "../store.ts";
import { clientOf, requireSession, sendCode, throttled, wrongCode } from "./common.ts";
import type { AuthServiceDependencies } from "./dependencies.ts";

/** The outbox topic the credential service's consumer reads. */
export const contactVerifiedTopic = "contact.verified";

interface ContactTarget {
  field: ContactField;
  channel: "email" | "sms";
  kind: ContactKind;
  contact: string;
}

export function emailTarget(email: string): ContactTarget {
  return { field: "email", channel: "email", kind: ContactKind.EMAIL, contact: normalizeEmail(email) };
}

export function phoneTarget(fieldName: string, phoneNumber: string): ContactTarget {
  return { field: "phoneNumber", channel: "sms", kind: ContactKind.PHONE, contact: normalizePhoneNumber(fieldName, phoneNumber) };
}

export async function startVerification(
  dependencies: AuthServiceDependencies,
  purpose: VerificationPurpose,
  target: ContactTarget,
  context: HandlerContext,
): Promise<{ codeExpiresAt: Timestamp; resendAvailableAt: Timestamp }> {
  const { store, config } = dependencies;
  // A change needs a live session; checked before anything is counted or sent.
  const caller = purpose === VerificationPurpose.CHANGE ? await requireSession(dependencies, context) : undefined;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`verify:${target.contact}`]);
  const message = (code: string) => verificationCodeMessage(target.channel, target.contact, code, config.AUTH_CODE_TTL_SECONDS);
  const sendTo = (purposeName: string, userId: string) =>
    sendCode(dependencies, { flow: "contact", channel: target.channel, contact: target.contact, purpose: purposeName, userId }, message);
  if (caller === undefined) {
    return throttled(dependencies, "contact", target.contact, async () => {
      const holder = await store.findUserByContact(target.field, target.contact);
      const verifiedAt = target.field === "email" ? holder?.emailVerifiedAt : holder?.phoneVerifiedAt;
      if (holder && !verifiedAt) await sendTo("confirm", holder.id);
    });
  }
  const holder = await store.findUserByContact(target.field, target.contact);
  if (holder && holder.id !== caller.userId) {
    // Another account's contact: its owner is warned (throttled on its own), and the answer is the usual one.
    return throttled(dependencies, "notice", target.contact, async () => {
      dependencies.dispatcher.dispatch(contactInUseMessage(target.channel, target.contact));
    });
  }
  return throttled(dependencies, "contact", target.contact, async () => {
    // The caller's own contact: a change to itself is a confirmation.
    if (holder) return sendTo("confirm", holder.id);
    await store.setPendingContact(caller.userId, target.field, target.contact);
    await sendTo("change", caller.userId);
  });
}

export async function completeVerification(
  dependencies: AuthServiceDependencies,
  target: ContactTarget,
  code: string,
  context: HandlerContext,
): Promise<{ verifiedAt: Timestamp }> {
  const { store, codes, config } = dependencies;
  const client = clientOf(dependencies, context);
  await dependencies.rateLimits.consume(client.ipAddress, [`verify:${target.contact}`]);
  const result = await store.useCode({
    flow: "contact",
    contact: target.contact,
    attemptsMax: config.AUTH_CODE_ATTEMPTS_MAX,
    matches: (stored) => codes.matches(stored.codeHash, "contact", target.contact, code),
    onMatch: (stored, transaction) =>
      store.verifyContact(transaction, {
        userId: stored.userId,
        field: target.field,
        contact: target.contact,
        change: stored.purpose === "change",
        outbox: {
          topic: contactVerifiedTopic,
          payload: (eventId, verifiedAt) =>
            toBinary(
              ContactVerifiedSchema,
              create(ContactVerifiedSchema, {
                eventId,
                userId: stored.userId,
                kind: target.kind,
                contact: target.contact,
                verifiedAt: timestampFromDate(verifiedAt),
              }),
            ),
        },
        audit: {
          kind: "contact_verified",
          userId: stored.userId,
          ipAddress: client.ipAddress,
          userAgent: client.userAgent,
          detail: { channel: target.channel, purpose: stored.purpose },
        },
      }),
  });
  if (result.kind !== "matched" || result.value === null) throw wrongCode();
  dependencies.metrics.codesConfirmed.inc({ channel: target.channel, flow: "contact" });
  return { verifiedAt: timestampFromDate(result.value) };
}
