import { EventEmitter } from "node:events";
import { Queue, type Worker } from "bullmq";
import type { EmailProvider, SmsProvider } from "../channels/provider.js";
import { providersFromConfig, type FailoverEvent } from "../channels/index.js";
import { ConfigError, providerIssues, type Config } from "../config/index.js";
import { CHANNELS, type ChannelName } from "../contracts/index.js";
import type { Logger } from "../logger.js";
import { createRedis, redisTarget, reportErrors, type RedisClient } from "../queues/connection.js";
import { DeadLetters } from "../queues/dead-letter.js";
import type { WebhookOutbox } from "../queues/webhook-outbox.js";
import { bullmqTelemetry, tracingActive } from "../telemetry/tracing.js";
import { startWebhookDelivery, type BreakerPolicy, type WebhookDelivery } from "./webhook-worker.js";
import type { DeliveryResult } from "./pipeline.js";
import { Suppressions } from "../queues/suppressions.js";
import { Limits } from "../queues/limits.js";
import { limitPolicyOf, limitSettingsOf } from "../config/producer.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { deliveryPrefixes, QUEUE_OF_CHANNEL } from "../queues/names.js";
import { scrub } from "../redact.js";
import { loadKey } from "../secrets/key.js";
import { loadRenderer } from "../templates/load.js";
import type { Renderer } from "../templates/renderer.js";
import { DeadLetterMover } from "./dead-letter-mover.js";
import { checkProvider, type ProviderCheck } from "./provider-check.js";
import { createDeliveryWorker } from "./delivery-worker.js";
import { deliveryEvents } from "./delivery-events.js";

/** How long the start-up SMTP check may take before it counts as failed. */
export const PROVIDER_CHECK_TIMEOUT_MS = 10_000;

export interface WorkersOptions {
  config: Config;
  logger: Logger;
  /** Which channels' queues to work; default both. */
  channels?: ChannelName[];
  concurrency?: Partial<Record<ChannelName, number>>;
  /** Providers to use instead of the configured ones. */
  providers?: { email?: EmailProvider; sms?: SmsProvider };
  renderer?: Renderer;
  /** Run the webhook worker when HERALD_WEBHOOKS names endpoints; default true. */
  webhooks?: boolean;
  /** The webhook endpoints' breaker (tests shorten it). */
  webhookBreaker?: BreakerPolicy;
}

/**
 * Events after the fact, for metrics and tests: `delivered` (job, result), `retrying` (job, error),
 * `dead-lettered` (job, failureClass, code), `unknown-tenant` (kind, tenantId), `provider-breaker`
 * (channel, provider, state), `failover` (channel, from, to) and `webhook` (endpointId, outcome).
 */
export type WorkerEvents = EventEmitter;

export interface RunningWorkers {
  workers: Worker[];
  events: WorkerEvents;
  deadLetters: DeadLetters;
  renderer: Renderer;
  /** The start-up check of each provider that has one (SMTP), for /readyz; it never stops the workers. */
  providerChecks: Partial<Record<ChannelName, ProviderCheck>>;
  /** Publishes delivery events to the webhook queue, when endpoints are configured. */
  outbox?: WebhookOutbox;
  /** The webhook worker, when endpoints are configured. */
  webhookDelivery?: WebhookDelivery;
  /** Stops taking jobs, lets active ones finish, moves pending dead letters, closes providers and Redis. */
  close(): Promise<void>;
}

export async function startWorkers(opts: WorkersOptions): Promise<RunningWorkers> {
  const { config, logger } = opts;
  const channels = opts.channels ?? [...CHANNELS];
  if (!(opts.providers?.email && opts.providers?.sms)) {
    const issues = providerIssues(
      config,
      channels.filter((c) => !opts.providers?.[c]),
    );
    if (issues.length > 0) throw new ConfigError(issues.join("\n"));
  }
  const { key, generatedFile } = loadKey({
    HERALD_ENCRYPTION_KEY: config.HERALD_ENCRYPTION_KEY,
    HERALD_ENCRYPTION_KEYS: config.HERALD_ENCRYPTION_KEYS,
    dev: config.HERALD_DEV,
    dataDir: config.HERALD_DATA_DIR,
  });
  if (generatedFile) {
    logger.warn({ file: generatedFile }, "HERALD_ENCRYPTION_KEY is not set: using the dev key file; set the same key on producers and workers in production");
  }
  const events: WorkerEvents = new EventEmitter();
  // Templates compile before any connection opens: a broken template stops start-up, not a 3 am job.
  const onUnknownTenant = (tenant: string, kind: string) => {
    logger.warn({ tenant, kind }, "job names a tenant that is not in HERALD_TENANTS_FILE: default branding and texts used");
    events.emit("unknown-tenant", kind, tenant);
  };
  const renderer = opts.renderer ?? (await loadRenderer(config, { onUnknownTenant }));
  for (const warning of renderer.warnings) logger.warn(warning);
  // Breaker changes and failovers: a log line each (ops alert on "provider breaker opened") and an event for the metrics.
  const onProviderEvent = (channel: ChannelName, event: FailoverEvent) => {
    if (event.type === "breaker") {
      const line = { channel, provider: event.provider, state: event.state, failures: event.failures };
      if (event.state === "open") logger.error(line, "provider breaker opened: sends skip this provider until a probe succeeds");
      else logger.warn(line, `provider breaker ${event.state}`);
      events.emit("provider-breaker", channel, event.provider, event.state);
    } else {
      logger.warn({ channel, from: event.from, to: event.to, code: event.code }, "provider failed transiently: sending through the next one");
      events.emit("failover", channel, event.from, event.to);
    }
  };
  const configured = opts.providers?.email && opts.providers?.sms ? undefined : providersFromConfig(config, onProviderEvent);
  const email = opts.providers?.email ?? configured!.email;
  const sms = opts.providers?.sms ?? configured!.sms;
  if (!config.HERALD_DEV) {
    for (const channel of channels) {
      const provider = channel === "email" ? email.provider : sms.provider;
      if (provider === "outbox")
        logger.warn(
          { channel, dir: config.HERALD_OUTBOX_DIR },
          `${channel} goes to the file outbox (HERALD_${channel.toUpperCase()}_CHANNEL=outbox), not to a provider`,
        );
    }
  }

  const connection: RedisClient = createRedis(redisTarget(config), "worker");
  // One BullMQ worker per channel and shard (HERALD_SHARDS), each with its own blocking connection.
  const prefixes = deliveryPrefixes(config.HERALD_PREFIX, config.HERALD_SHARDS);
  const logError = (what: string) => (error: Error, suppressed: number) =>
    logger.error(
      { error: scrub(error.message), errorCode: (error as { code?: string }).code, suppressed },
      `${what}: Redis error (repeats are counted, not logged, for a minute)`,
    );
  reportErrors(connection, logError("worker connection"));
  const deadLetters = new DeadLetters(connection, config.HERALD_PREFIX, retryPolicyOf(config));
  reportErrors(deadLetters.queue, logError("dead-letter queue"));
  const suppressions = new Suppressions(connection, config.HERALD_PREFIX, key, config.HERALD_SUPPRESSION_TTL_DAYS);
  const delivery = deliveryEvents(config, connection, logger, suppressions);
  const mover = new DeadLetterMover(deadLetters, logger, (job, failureClass, code) => {
    events.emit("dead-lettered", job, failureClass, code);
    delivery.deadLettered(job, failureClass, code);
  });
  // The SMS guard looks again before a send (counting nothing) when limits are on or an allowlist is set.
  const limits =
    limitSettingsOf(config) || config.HERALD_SMS_ALLOWED_COUNTRIES
      ? new Limits(connection, config.HERALD_PREFIX, key, {
          policy: limitPolicyOf(config),
          smsAllowedCountries: config.HERALD_SMS_ALLOWED_COUNTRIES,
        })
      : undefined;
  // Traced only if an OpenTelemetry SDK was registered before start (herald's own with HERALD_OTEL, or the embedding app's).
  const tracing = tracingActive();
  const defaults: Record<ChannelName, number> = { email: config.HERALD_EMAIL_CONCURRENCY, sms: config.HERALD_SMS_CONCURRENCY };
  const channelShards = channels.flatMap((channel) => prefixes.map((prefix) => ({ channel, prefix })));
  const workers = channelShards.map(({ channel, prefix }) => {
    const worker = createDeliveryWorker(
      channel,
      { key, renderer, email, sms, suppressions, limits, onAccepted: delivery.onAccepted, tracing },
      {
        connection,
        prefix,
        concurrency: opts.concurrency?.[channel] ?? defaults[channel],
        lockMs: config.HERALD_LOCK_MS,
        stalledIntervalMs: config.HERALD_STALLED_INTERVAL_MS,
        limiter: shareOfRate(channel === "email" ? config.HERALD_EMAIL_RATE_PER_SECOND : config.HERALD_SMS_RATE_PER_SECOND, prefixes.length),
        logger,
        telemetry: bullmqTelemetry(tracing),
      },
    );
    mover.attach(worker);
    worker.on("completed", (job, result: DeliveryResult) => {
      events.emit("delivered", job, result);
      delivery.delivered(job, result);
    });
    worker.on("failed", (job, error) => {
      if (job && !job.finishedOn) events.emit("retrying", job, error);
    });
    return worker;
  });
  const swept = channels.flatMap((c) => prefixes.map((prefix) => new Queue(QUEUE_OF_CHANNEL[c], { connection, prefix })));
  swept.forEach((queue) => reportErrors(queue, logError(`${queue.name} queue (dead-letter sweep)`)));
  mover.watch(swept);
  for (const worker of workers) {
    void worker.run().catch((error) => logger.error({ err: error }, "worker stopped"));
  }
  const webhookDelivery =
    (opts.webhooks ?? true) && config.webhooks.length > 0
      ? startWebhookDelivery({
          connection,
          prefix: config.HERALD_PREFIX,
          endpoints: config.webhooks,
          concurrency: config.HERALD_WEBHOOK_CONCURRENCY,
          timeoutMs: config.HERALD_WEBHOOK_TIMEOUT_MS,
          lockMs: config.HERALD_LOCK_MS,
          stalledIntervalMs: config.HERALD_STALLED_INTERVAL_MS,
          breaker: opts.webhookBreaker,
          logger,
          onOutcome: (endpoint, outcome) => events.emit("webhook", endpoint, outcome),
        })
      : undefined;
  await Promise.all([...workers, ...(webhookDelivery ? [webhookDelivery.worker] : [])].map((w) => w.waitUntilReady()));
  // In the background: a relay that is down or misconfigured at start is a warning and a /readyz detail,
  // not a crash loop; its jobs wait and retry like during any other outage.
  const providerChecks: RunningWorkers["providerChecks"] = {};
  if (channels.includes("email") && email.verify) providerChecks.email = checkProvider(email, logger, PROVIDER_CHECK_TIMEOUT_MS);
  logger.info(
    { queues: channels.map((c) => QUEUE_OF_CHANNEL[c]), emailProvider: email.provider, smsProvider: sms.provider, prefix: config.HERALD_PREFIX },
    "workers started",
  );

  let closing: Promise<void> | undefined;
  return {
    workers,
    events,
    deadLetters,
    renderer,
    providerChecks,
    outbox: delivery.outbox,
    webhookDelivery,
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await mover.close();
        await webhookDelivery?.close();
        await delivery.close();
        await Promise.all(swept.map((q) => q.close()));
        await deadLetters.close();
        await Promise.all([email.close(), sms.close()]);
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}

/**
 * BullMQ limits each queue on its own, so a channel's rate is split over its queues (every shard, and the
 * unsharded queue once sharded): each gets rate / queues per second, never more in total. A share below
 * one per second becomes one job per longer window.
 */
export function shareOfRate(rate: number | undefined, queues: number): { max: number; duration: number } | undefined {
  if (rate === undefined) return undefined;
  const share = rate / Math.max(1, queues);
  const max = Math.max(1, Math.floor(share));
  return { max, duration: Math.ceil((1000 * max) / share) };
}
