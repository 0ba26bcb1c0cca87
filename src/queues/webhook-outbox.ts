import type { RedisClient } from "./connection.js";
import { Queue } from "bullmq";
import type { WebhookEndpoint } from "../config/webhooks.js";
import type { NotificationEventType } from "../contracts/events.js";
import { WEBHOOK_DEAD_LETTER_QUEUE, WEBHOOK_QUEUE } from "./names.js";
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
    connection: RedisClient,
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
        // One job per message and endpoint: publishing the same event again adds nothing.
        opts: { ...webhookJobOptions(this.policy), jobId: `${messageId}-${endpoint.id}` },
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

/** A webhook message that failed for good (moved here by the webhook worker), as listed and replayed. */
export interface WebhookDeadLetterRecord extends WebhookJobData {
  id: string;
  url: string;
  attempts: number;
  reason: string;
  failedAt: string;
}

/**
 * The webhook dead letters: list them, and send them again (with fresh attempts, the same webhook-id, so
 * a receiver that did get it after all can tell) once the endpoint is fixed.
 */
export class WebhookDeadLetters {
  readonly queue: Queue;
  private readonly webhooks: Queue;

  constructor(
    connection: RedisClient,
    prefix: string,
    private readonly policy: WebhookPolicy,
  ) {
    this.queue = new Queue(WEBHOOK_DEAD_LETTER_QUEUE, { connection, prefix });
    this.webhooks = new Queue(WEBHOOK_QUEUE, { connection, prefix });
  }

  /** Newest first. */
  async list(offset = 0, limit = 50): Promise<{ total: number; items: WebhookDeadLetterRecord[] }> {
    const [total, jobs] = await Promise.all([this.queue.getWaitingCount(), this.queue.getJobs(["waiting"], offset, offset + limit - 1, false)]);
    return { total, items: jobs.filter(Boolean).map((job) => ({ ...(job.data as Omit<WebhookDeadLetterRecord, "id">), id: job.id! })) };
  }

  /** Back on the webhook queue under its original job id; the dead letter is removed. False if there is no such letter. */
  async replay(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job) return false;
    const { endpointId, messageId, event } = job.data as WebhookJobData;
    await this.webhooks.add(event.type, { endpointId, messageId, event } satisfies WebhookJobData, { ...webhookJobOptions(this.policy), jobId: id });
    await job.remove();
    return true;
  }

  async replayAll(): Promise<number> {
    let replayed = 0;
    for (;;) {
      const { items } = await this.list(0, 500);
      if (items.length === 0) return replayed;
      for (const item of items) if (await this.replay(item.id)) replayed++;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.webhooks.close()]);
  }
}

function webhookJobOptions(policy: WebhookPolicy) {
  return {
    attempts: policy.attempts,
    backoff: { type: "exponential", delay: policy.backoffMs, jitter: 0.2 },
    removeOnComplete: { age: 86_400, count: 10_000 },
    // A failure for good is moved to the webhook dead letters by the worker; kept here until it is.
    removeOnFail: false,
  };
}
