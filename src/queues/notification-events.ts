import { createHash } from "node:crypto";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { NotificationEventType, WebhookEndpoint } from "../config/webhooks.js";
import type { ChannelName } from "../contracts/index.js";
import type { DeadLetterRecord } from "./dead-letter.js";
import type { NotificationRef } from "./provider-reports.js";
import { channelOfQueue, WEBHOOK_QUEUE } from "./names.js";

export { NOTIFICATION_EVENT_TYPES, type NotificationEventType, type WebhookEndpoint } from "../config/webhooks.js";

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

export interface WebhookPolicy {
  attempts: number;
  backoffMs: number;
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

/**
 * Publishes delivery events: one job per subscribed endpoint on the webhook queue, whose own worker
 * signs and posts them. Publishing is one Redis round trip; with no endpoint subscribed, none.
 */
export class WebhookOutbox {
  readonly queue: Queue;

  constructor(
    connection: Redis,
    prefix: string,
    private readonly endpoints: readonly WebhookEndpoint[],
    private readonly policy: WebhookPolicy,
  ) {
    this.queue = new Queue(WEBHOOK_QUEUE, { connection, prefix });
  }

  /** Whether any endpoint wants this type (callers may skip building the event otherwise). */
  wants(type: NotificationEventType): boolean {
    return this.endpoints.some((e) => e.events.includes(type));
  }

  async publish(event: NotificationEvent): Promise<void> {
    const targets = this.endpoints.filter((e) => e.events.includes(event.type));
    if (targets.length === 0) return;
    const messageId = eventMessageId(event);
    await this.queue.addBulk(
      targets.map((endpoint) => ({
        name: event.type,
        data: { endpointId: endpoint.id, messageId, event } satisfies WebhookJobData,
        opts: {
          // One job per message and endpoint: publishing the same event again adds nothing.
          jobId: `${messageId}-${endpoint.id}`,
          attempts: this.policy.attempts,
          backoff: { type: "exponential", delay: this.policy.backoffMs, jitter: 0.2 },
          removeOnComplete: { age: 86_400, count: 10_000 },
          // A failure for good is moved to the webhook dead letters by the worker; kept here until it is.
          removeOnFail: false,
        },
      })),
    );
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
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

/** The webhook queue's retry policy from the configuration. */
export function webhookPolicyOf(config: { HERALD_WEBHOOK_ATTEMPTS: number; HERALD_WEBHOOK_BACKOFF_MS: number }): WebhookPolicy {
  return { attempts: config.HERALD_WEBHOOK_ATTEMPTS, backoffMs: config.HERALD_WEBHOOK_BACKOFF_MS };
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
export function handsetEvent(
  ref: NotificationRef,
  report: { status: "delivered" | "undelivered"; at: Date; errorCode?: string },
): NotificationEvent {
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
