import type { RedisClient } from "../queues/connection.js";
import { isHardBounceTwilioCode } from "../channels/twilio-errors.js";
import { twilioCallbackUrl, type Config } from "../config/index.js";
import type { HttpServerOptions } from "../http/server.js";
import type { AppliedReport } from "../http/plugins/twilio-callbacks.js";
import type { Logger } from "../logger.js";
import type { DeadLetterRecord } from "../queues/dead-letter.js";
import type { Suppressions } from "../queues/suppressions.js";
import { handsetEvent, replayedEvent } from "../queues/notification-events.js";
import { WebhookOutbox, webhookPolicyOf, type WebhookPolicy } from "../queues/webhook-outbox.js";

/**
 * The events the API process learns of, wired for `herald start|api`: dead-letter replays and Twilio's
 * status callbacks go to the webhook queue like the workers' own events; a permanent handset failure puts
 * the number on the suppression list and goes to `onUndeliverable`. All of it is off without HERALD_WEBHOOKS and
 * HERALD_PUBLIC_URL.
 */
export interface ApiEvents {
  /** For DeadLetters: publishes `notification.replayed`. */
  onReplayed?: (letter: DeadLetterRecord, newId: string) => Promise<void>;
  /** For createHttpServer: the callback route, when HERALD_PUBLIC_URL and Twilio are configured. */
  twilioCallbacks?: HttpServerOptions["twilioCallbacks"];
  /** For createHttpServer, when endpoints are configured: webhook queues in Bull Board and /metrics, and their dead-letter routes. */
  webhooks?: WebhookPolicy;
  close(): Promise<void>;
}

export function apiEvents(
  config: Config,
  connection: RedisClient,
  logger: Logger,
  hooks: { suppressions?: Suppressions; onUndeliverable?: (report: AppliedReport) => Promise<void> } = {},
): ApiEvents {
  const outbox = config.webhooks.length > 0 ? new WebhookOutbox(connection, config.HERALD_PREFIX, config.webhooks, webhookPolicyOf(config)) : undefined;
  outbox?.queue.on("error", () => {}); // reported by the other queues' listeners and /readyz
  if (config.HERALD_PUBLIC_URL && !config.TWILIO_AUTH_TOKEN) {
    logger.warn("HERALD_PUBLIC_URL is set but TWILIO_AUTH_TOKEN is not: Twilio status callbacks cannot be verified and are not served by this process");
  }
  const lost = (event: string) => (error: unknown) => logger.error({ err: error, event }, "could not publish a delivery event");

  const onReport = async (report: AppliedReport) => {
    if (report.status !== "delivered" && report.status !== "undelivered") return;
    if (report.ref && outbox) await outbox.publish(handsetEvent(report.ref, { ...report, status: report.status }));
    // A hard bounce reported after acceptance (unknown number, landline, opted out) suppresses the number,
    // as the same code does at send time; then the hook is told.
    if (report.status === "undelivered" && report.twilioErrorCode && isHardBounceTwilioCode(report.twilioErrorCode)) {
      logger.warn(
        { jobId: report.ref?.id, errorCode: report.errorCode },
        "SMS undeliverable for good (hard bounce reported by the carrier): number suppressed",
      );
      if (report.ref?.suppressionId && hooks.suppressions) {
        await hooks.suppressions.addId(report.ref.suppressionId, {
          source: "bounce",
          reason: `twilio: undelivered (${report.errorCode}), reported by the carrier after acceptance`,
          code: report.errorCode,
          kind: report.ref.kind,
          channel: "sms",
        });
      }
      await hooks.onUndeliverable?.(report);
    }
  };

  return {
    ...(outbox ? { onReplayed: (letter, id) => outbox.publish(replayedEvent(letter, id)).catch(lost("notification.replayed")) } : {}),
    ...(config.HERALD_PUBLIC_URL && config.TWILIO_AUTH_TOKEN
      ? {
          twilioCallbacks: {
            url: twilioCallbackUrl(config.HERALD_PUBLIC_URL),
            authToken: config.TWILIO_AUTH_TOKEN,
            onReport,
            onError: lost("twilio status callback"),
          },
        }
      : {}),
    ...(outbox ? { webhooks: webhookPolicyOf(config) } : {}),
    async close() {
      await outbox?.close();
    },
  };
}
