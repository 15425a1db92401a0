// The words of every message auth sends. Plain text, one place, so wording
// changes never touch the flows.
import type { Notification } from "./notifier.ts";

type Channel = Notification["channel"];

function minutes(ttlSeconds: number): string {
  const value = Math.max(1, Math.round(ttlSeconds / 60));
  return `${value} minute${value === 1 ? "" : "s"}`;
}

export function verificationCodeMessage(channel: Channel, to: string, code: string, ttlSeconds: number): Notification {
  return {
    channel,
    to,
    kind: "verification_code",
    code,
    subject: "Your Trustmesh verification code",
    text: `Your Trustmesh verification code is ${code}. It expires in ${minutes(ttlSeconds)}. If you did not ask for it, ignore this message.`,
  };
}

export function passwordResetCodeMessage(channel: Channel, to: string, code: string, ttlSeconds: number): Notification {
  return {
    channel,
    to,
    kind: "password_reset_code",
    code,
    subject: "Reset your Trustmesh password",
    text: `Your Trustmesh password reset code is ${code}. It expires in ${minutes(ttlSeconds)}. If you did not ask to reset your password, ignore this message; your password is unchanged.`,
  };
}

export function accountExistsMessage(channel: Channel, to: string): Notification {
  return {
    channel,
    to,
    kind: "account_exists",
    subject: "Someone tried to sign up with your address",
    text: "Someone tried to create a Trustmesh account with this contact, which already has an account. If it was you, sign in, or reset your password if you have forgotten it. Otherwise you can ignore this message.",
  };
}

export function contactInUseMessage(channel: Channel, to: string): Notification {
  return {
    channel,
    to,
    kind: "contact_in_use",
    subject: "Someone tried to add your address to another account",
    text: "Someone signed in to a Trustmesh account tried to add this contact to it. It already belongs to your account, so nothing changed.",
  };
}

export function passwordChangedMessage(channel: Channel, to: string): Notification {
  return {
    channel,
    to,
    kind: "password_changed",
    subject: "Your Trustmesh password was changed",
    text: "The password of your Trustmesh account was just changed. If that was not you, reset your password now.",
  };
}

/** What changed about an account's second factors, in the words of the notice. */
export type SecondFactorChange = "TOTP was turned on" | "TOTP was turned off" | "a passkey was added";

export function secondFactorChangedMessage(channel: Channel, to: string, change: SecondFactorChange): Notification {
  return {
    channel,
    to,
    kind: "second_factor_changed",
    subject: "The sign-in methods of your Trustmesh account changed",
    text: `On your Trustmesh account, ${change}. If that was not you, reset your password now and check your account's sign-in methods.`,
  };
}
