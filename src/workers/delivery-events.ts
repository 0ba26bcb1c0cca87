import type { Job } from "bullmq";
import type { Config } from "../config/index.js";
import type { ChannelName } from "../contracts/index.js";
import type { FailureClass } from "../errors/index.js";
import type { Logger } from "../logger.js";
import { reportErrors, type RedisClient } from "../queues/connection.js";
import { channelOfQueue } from "../queues/names.js";
import { envelopeFacts, handsetEvent, notificationEvent, type NotificationEvent } from "../queues/notification-events.js";
import { ProviderReports } from "../queues/provider-reports.js";
import type { Suppressions } from "../queues/suppressions.js";
import { WebhookOutbox, webhookPolicyOf } from "../queues/webhook-outbox.js";
import { scrub } from "../redact.js";
import type { AcceptedMessage, DeliveryResult } from "./pipeline.js";

/**
 * What the workers tell the world about deliveries: `notification.accepted` and `.dead_lettered` to the
 * webhook queue (when HERALD_WEBHOOKS has endpoints), and the provider message id → notification
 * reference that Twilio's status callbacks need (when HERALD_PUBLIC_URL is set). With neither, every
 * hook here returns at once. Publishing never fails a delivery: a lost event is logged.
 */
export interface DeliveryEvents {
  outbox?: WebhookOutbox;
  /** PipelineDeps.onAccepted: records the message id, before the job completes. */
  onAccepted(accepted: AcceptedMessage): Promise<void>;
  /** On a worker's `completed`. */
  delivered(job: Job, result: DeliveryResult): void;
  /** From the dead-letter mover. */
  deadLettered(job: Job, failureClass: FailureClass, code?: string): void;
  close(): Promise<void>;
}

export function deliveryEvents(config: Config, connection: RedisClient, logger: Logger, suppressions?: Suppressions): DeliveryEvents {
  const outbox = config.webhooks.length > 0 ? new WebhookOutbox(connection, config.HERALD_PREFIX, config.webhooks, webhookPolicyOf(config)) : undefined;
  if (outbox) reportErrors(outbox.queue, (error) => logger.error({ error: scrub(error.message) }, "webhook queue: Redis error"));
  const reports = config.HERALD_PUBLIC_URL ? new ProviderReports(connection, config.HERALD_PREFIX) : undefined;

  const publish = (build: () => NotificationEvent) => {
    if (!outbox) return;
    const event = build();
    void outbox.publish(event).catch((error: Error) => logger.error({ error: scrub(error.message), event: event.type }, "could not publish a delivery event"));
  };

  return {
    outbox,
    async onAccepted({ job, receipt, channel, kind, tenant, enqueuedAt, recipient }) {
      if (!reports || receipt.provider !== "twilio") return;
      const ref = {
        id: job.id!,
        kind,
        channel,
        ...(tenant ? { tenant } : {}),
        provider: receipt.provider,
        attempts: job.attemptsMade + 1,
        enqueuedAt: new Date(enqueuedAt).toISOString(),
        acceptedAt: receipt.acceptedAt,
        ...(suppressions ? { suppressionId: suppressions.idOf(recipient) } : {}),
      };
      try {
        const early = await reports.remember(receipt.provider, receipt.messageId, ref);
        // The callback came first and could not name the notification: its event is published here (the
        // event's id derives from what happened, so a publication by the callback too is the same message).
        if (early?.status === "delivered" || early?.status === "undelivered") {
          const status = early.status;
          publish(() => handsetEvent(ref, { status, at: new Date(early.at), errorCode: early.errorCode }));
        }
      } catch (error) {
        logger.warn({ jobId: job.id, error: scrub((error as Error).message) }, "could not record the message id for status callbacks");
      }
    },
    delivered(job, result) {
      if (!outbox?.wants("notification.accepted")) return;
      publish(() =>
        notificationEvent("notification.accepted", {
          id: job.id!,
          kind: result.kind,
          channel: result.channel,
          tenant: envelopeFacts(job.data).tenant,
          status: "accepted",
          provider: result.provider,
          attempts: job.attemptsMade,
          times: { enqueuedAt: new Date(result.enqueuedAt).toISOString(), acceptedAt: result.acceptedAt },
        }),
      );
    },
    deadLettered(job, failureClass, code) {
      if (!outbox?.wants("notification.dead_lettered")) return;
      publish(() => {
        const { tenant, enqueuedAt } = envelopeFacts(job.data);
        return notificationEvent("notification.dead_lettered", {
          id: job.id!,
          kind: job.name,
          channel: channelOfQueue(job.queueName) ?? (job.queueName as ChannelName),
          tenant,
          status: "dead-lettered",
          provider: null,
          attempts: job.attemptsMade,
          times: { enqueuedAt, deadLetteredAt: new Date(job.finishedOn ?? Date.now()).toISOString() },
          failureClass,
          ...(code ? { errorCode: code } : {}),
        });
      });
    },
    async close() {
      await outbox?.close();
    },
  };
}
