import { createHash } from "node:crypto";
import type { NotificationEventType } from "../contracts/events.js";
import type { ChannelName } from "../contracts/index.js";
import type { DeadLetterRecord } from "./dead-letter.js";
import type { NotificationRef } from "./provider-reports.js";
import { channelOfQueue } from "./names.js";

export { NOTIFICATION_EVENT_TYPES, type NotificationEventType } from "../contracts/events.js";

/**
 * What happened to a notification, as producers hear of it (webhooks, `herald.events()`): ids, kind,
 * channel, tenant, status, provider, attempts and times. Never the code, link, address or text.
 */
export interface NotificationEventData {
  id: string;
  kind: string;
  channel: ChannelName;
  tenant: string | null;
  status: "accepted" | "delivered" | "undelivered" | "dead-lettered" | "replayed";
  provider: string | null;
  attempts: number;
  times: {
    enqueuedAt?: string;
    acceptedAt?: string;
    deliveredAt?: string;
    undeliveredAt?: string;
    deadLetteredAt?: string;
    replayedAt?: string;
  };
  /** undelivered: the provider's code (`twilio-30003`); dead_lettered: the last error's code. */
  errorCode?: string;
  /** dead_lettered: permanent, exhausted, expired or invalid. */
  failureClass?: string;
  /** replayed: the new job's id (its own events follow under that id). */
  replayedAs?: string;
}

/** The Standard Webhooks payload shape: type, timestamp, data. */
export interface NotificationEvent {
  type: NotificationEventType;
  timestamp: string;
  data: NotificationEventData;
}

/** What a webhook job carries: which endpoint, the message id (the same on every retry) and the payload. */
export interface WebhookJobData {
  endpointId: string;
  messageId: string;
  event: NotificationEvent;
}

/**
 * The message id of an event: derived from what happened (type, notification, and the discriminating
 * detail), so the same event published twice (a sweep after a crash, a repeated callback) is one message.
 */
export function eventMessageId(event: NotificationEvent): string {
  const detail = event.data.replayedAs ?? event.data.times.deadLetteredAt ?? "";
  const hash = createHash("sha256").update(`${event.type}|${event.data.id}|${detail}`).digest("hex").slice(0, 24);
  return `msg_${hash}`;
}

/** Builds an event; `times` keeps only the known ones. */
export function notificationEvent(type: NotificationEventType, data: NotificationEventData, at: Date = new Date()): NotificationEvent {
  const times = Object.fromEntries(Object.entries(data.times).filter(([, v]) => v !== undefined));
  return { type, timestamp: at.toISOString(), data: { ...data, times } };
}

/** The tenant id and enqueue time a job's envelope carries in clear (the tenant is not sealed). */
export function envelopeFacts(data: unknown): { tenant: string | null; enqueuedAt?: string } {
  const envelope = (data ?? {}) as { job?: { tenant?: { id?: unknown } }; enqueuedAt?: unknown };
  const tenant = envelope.job?.tenant?.id;
  return {
    tenant: typeof tenant === "string" ? tenant : null,
    ...(typeof envelope.enqueuedAt === "number" ? { enqueuedAt: new Date(envelope.enqueuedAt).toISOString() } : {}),
  };
}

/** `notification.replayed`: a dead letter was sent back to its queue as job `newId`. */
export function replayedEvent(letter: DeadLetterRecord, newId: string, at: Date = new Date()): NotificationEvent {
  const { tenant, enqueuedAt } = envelopeFacts(letter.data);
  return notificationEvent(
    "notification.replayed",
    {
      id: letter.originalJobId,
      kind: letter.kind,
      channel: channelOfQueue(letter.queue) ?? (letter.queue as ChannelName),
      tenant,
      status: "replayed",
      provider: null,
      attempts: letter.attempts,
      times: { enqueuedAt, deadLetteredAt: letter.failedAt, replayedAt: at.toISOString() },
      replayedAs: newId,
    },
    at,
  );
}

/** `notification.delivered` / `notification.undelivered`: the provider's final word about the handset. */
export function handsetEvent(ref: NotificationRef, report: { status: "delivered" | "undelivered"; at: Date; errorCode?: string }): NotificationEvent {
  const type = report.status === "delivered" ? "notification.delivered" : "notification.undelivered";
  return notificationEvent(type, {
    id: ref.id,
    kind: ref.kind,
    channel: ref.channel,
    tenant: ref.tenant ?? null,
    status: report.status,
    provider: ref.provider,
    attempts: ref.attempts,
    times: {
      enqueuedAt: ref.enqueuedAt,
      acceptedAt: ref.acceptedAt,
      ...(report.status === "delivered" ? { deliveredAt: report.at.toISOString() } : { undeliveredAt: report.at.toISOString() }),
    },
    ...(report.errorCode ? { errorCode: report.errorCode } : {}),
  });
}
