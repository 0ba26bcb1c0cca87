import { EventEmitter } from "node:events";
import { Queue, type Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { EmailChannel, SmsChannel } from "../channels/channel.js";
import { channelsFromConfig } from "../channels/index.js";
import type { Config } from "../config.js";
import { CHANNELS, type ChannelName } from "../contracts/index.js";
import type { Logger } from "../logger.js";
import { createRedis } from "../queues/connection.js";
import { DeadLetters } from "../queues/dead-letter.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { QUEUE_OF_CHANNEL } from "../queues/names.js";
import { loadKey } from "../secrets/key.js";
import { loadRenderer } from "../templates/load.js";
import type { Renderer } from "../templates/renderer.js";
import { DeadLetterMover } from "./dead-letter-mover.js";
import { createDeliveryWorker } from "./delivery-worker.js";

export interface WorkersOptions {
  config: Config;
  logger: Logger;
  /** Which channels' queues to work; default both. */
  channels?: ChannelName[];
  concurrency?: Partial<Record<ChannelName, number>>;
  /** Providers to use instead of the configured ones. */
  providers?: { email?: EmailChannel; sms?: SmsChannel };
  renderer?: Renderer;
}

/**
 * Events after the fact, for metrics and tests: `delivered` (job, result), `retrying` (job, error),
 * `dead-lettered` (job, failureClass, code), `unknown-tenant` (kind, tenantId).
 */
export type WorkerEvents = EventEmitter;

export interface RunningWorkers {
  workers: Worker[];
  events: WorkerEvents;
  deadLetters: DeadLetters;
  renderer: Renderer;
  /** Stops taking jobs, lets active ones finish, moves pending dead letters, closes providers and Redis. */
  close(): Promise<void>;
}

export async function startWorkers(opts: WorkersOptions): Promise<RunningWorkers> {
  const { config, logger } = opts;
  const { key, generatedFile } = loadKey({ base64: config.HERALD_ENCRYPTION_KEY, dataDir: config.HERALD_DATA_DIR });
  if (generatedFile) {
    logger.warn({ file: generatedFile }, "HERALD_ENCRYPTION_KEY is not set: using the dev key file; set the same key on producers and workers in production");
  }
  // Templates compile before any connection opens: a broken template stops start-up, not a 3 am job.
  const onUnknownTenant = (tenant: string, kind: string) => {
    logger.warn({ tenant, kind }, "job names a tenant that is not in HERALD_TENANTS_FILE: default branding and texts used");
    events.emit("unknown-tenant", kind, tenant);
  };
  const renderer = opts.renderer ?? (await loadRenderer(config, { onUnknownTenant }));
  for (const warning of renderer.warnings) logger.warn(warning);
  const configured = opts.providers?.email && opts.providers?.sms ? undefined : channelsFromConfig(config);
  const email = opts.providers?.email ?? configured!.email;
  const sms = opts.providers?.sms ?? configured!.sms;

  const connection: Redis = createRedis(config.REDIS_URL, "worker");
  connection.on("error", (error) => logger.error({ err: error }, "redis connection error"));
  const deadLetters = new DeadLetters(connection, config.HERALD_PREFIX, retryPolicyOf(config));
  const events: WorkerEvents = new EventEmitter();
  const mover = new DeadLetterMover(deadLetters, logger, (job, failureClass, code) => events.emit("dead-lettered", job, failureClass, code));

  const channels = opts.channels ?? [...CHANNELS];
  const defaults: Record<ChannelName, number> = { email: config.HERALD_EMAIL_CONCURRENCY, sms: config.HERALD_SMS_CONCURRENCY };
  const workers = channels.map((channel) => {
    const worker = createDeliveryWorker(
      channel,
      { key, renderer, email, sms },
      {
        connection,
        prefix: config.HERALD_PREFIX,
        concurrency: opts.concurrency?.[channel] ?? defaults[channel],
        lockMs: config.HERALD_LOCK_MS,
        stalledIntervalMs: config.HERALD_STALLED_INTERVAL_MS,
        ratePerSecond: channel === "email" ? config.HERALD_EMAIL_RATE_PER_SECOND : config.HERALD_SMS_RATE_PER_SECOND,
        logger,
      },
    );
    mover.attach(worker);
    worker.on("completed", (job, result) => events.emit("delivered", job, result));
    worker.on("failed", (job, error) => {
      if (job && !job.finishedOn) events.emit("retrying", job, error);
    });
    return worker;
  });
  const swept = channels.map((c) => new Queue(QUEUE_OF_CHANNEL[c], { connection, prefix: config.HERALD_PREFIX }));
  mover.watch(swept);
  for (const worker of workers) {
    void worker.run().catch((error) => logger.error({ err: error }, "worker stopped"));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  logger.info({ queues: channels.map((c) => QUEUE_OF_CHANNEL[c]), emailProvider: email.provider, smsProvider: sms.provider, prefix: config.HERALD_PREFIX }, "workers started");

  let closing: Promise<void> | undefined;
  return {
    workers,
    events,
    deadLetters,
    renderer,
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await mover.close();
        await Promise.all(swept.map((q) => q.close()));
        await deadLetters.close();
        await Promise.all([email.close(), sms.close()]);
        await connection.quit().catch(() => connection.disconnect());
      })();
      return closing;
    },
  };
}
