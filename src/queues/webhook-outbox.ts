import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { WebhookEndpoint } from "../config/webhooks.js";
import type { NotificationEventType } from "../contracts/events.js";
import { WEBHOOK_QUEUE } from "./names.js";
import { eventMessageId, type NotificationEvent, type WebhookJobData } from "./notification-events.js";

export type { WebhookEndpoint } from "../config/webhooks.js";

export interface WebhookPolicy {
  attempts: number;
  backoffMs: number;
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

/** The webhook queue's retry policy from the configuration. */
export function webhookPolicyOf(config: { HERALD_WEBHOOK_ATTEMPTS: number; HERALD_WEBHOOK_BACKOFF_MS: number }): WebhookPolicy {
  return { attempts: config.HERALD_WEBHOOK_ATTEMPTS, backoffMs: config.HERALD_WEBHOOK_BACKOFF_MS };
}
