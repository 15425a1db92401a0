// Messages to people: verification and reset codes, "someone tried to sign up
// with your address", and warnings. Three deliveries: SMTP (nodemailer), SMS
// through an HTTP webhook, and a development outbox (a bounded Redis list) that
// tests and `npm start` read instead of a mailbox.
//
// Delivery runs after the RPC's state change and off the request path, so an
// answer takes as long whether or not a message went out (no enumeration by
// timing), and a slow mail server cannot hold a request.

import type { Logger } from "@trustmesh/runtime";
import type { Redis } from "ioredis";
import nodemailer from "nodemailer";

export type NotificationKind =
  | "verification_code"
  | "account_exists"
  | "password_reset_code"
  | "contact_in_use"
  | "password_changed"
  | "second_factor_changed";

export interface Notification {
  channel: "email" | "sms";
  /** Email address or E.164 number. */
  to: string;
  kind: NotificationKind;
  subject: string;
  text: string;
  /** The code the text carries, if any; only the development outbox keeps it separately. */
  code?: string;
}

export interface Notifier {
  send(notification: Notification): Promise<void>;
}

/** The Redis list the development outbox writes, newest first. */
export const devOutboxKey = "dev-outbox";

export function createDevOutboxNotifier(redis: Redis, keepMax: number): Notifier {
  return {
    async send(notification) {
      await redis
        .multi()
        .lpush(devOutboxKey, JSON.stringify({ ...notification, sentAt: new Date().toISOString() }))
        .ltrim(devOutboxKey, 0, keepMax - 1)
        .exec();
    },
  };
}

export function createSmtpNotifier(options: { url: string; from: string; timeoutMs: number }): Notifier {
  const transport = nodemailer.createTransport(options.url, {
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  } as object);
  return {
    async send(notification) {
      await transport.sendMail({ from: options.from, to: notification.to, subject: notification.subject, text: notification.text });
    },
  };
}

export function createSmsWebhookNotifier(options: { url: string; token?: string; timeoutMs: number }): Notifier {
  return {
    async send(notification) {
      const response = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify({ to: notification.to, body: notification.text, kind: notification.kind }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // Drain the body so the connection can be reused.
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`SMS webhook answered ${response.status}`);
    },
  };
}

/** Routes each message to the notifier of its channel. */
export function createChannelNotifier(channels: { email: Notifier; sms: Notifier }): Notifier {
  return { send: (notification) => channels[notification.channel].send(notification) };
}

export interface Dispatcher {
  /** Sends in the background; failures are logged and counted, never thrown at the caller. */
  dispatch(notification: Notification): void;
  /** Resolves when nothing is in flight (tests, shutdown). */
  idle(): Promise<void>;
}

export function createDispatcher(options: {
  notifier: Notifier;
  logger: Logger;
  inFlightMax: number;
  onResult: (notification: Notification, ok: boolean) => void;
}): Dispatcher {
  const inFlight = new Set<Promise<void>>();
  return {
    dispatch(notification) {
      if (inFlight.size >= options.inFlightMax) {
        options.logger.warn({ kind: notification.kind, channel: notification.channel }, "notification dropped: too many in flight");
        options.onResult(notification, false);
        return;
      }
      const sending = options.notifier.send(notification).then(
        () => options.onResult(notification, true),
        (error: unknown) => {
          options.logger.error({ err: error, kind: notification.kind, channel: notification.channel }, "notification failed");
          options.onResult(notification, false);
        },
      );
      const tracked = sending.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    },
    async idle() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
