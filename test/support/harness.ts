import { randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config/index.js";
import { createHttpServer, loadHttpConfig, type HeraldHttpServer, type HttpServerOptions } from "../../src/http/index.js";
import { createLogger } from "../../src/logger.js";
import { HeraldMetrics } from "../../src/metrics.js";
import { createRedis } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { Suppressions } from "../../src/queues/suppressions.js";
import { decodeKey } from "../../src/secrets/key.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers, type RunningWorkers, type WorkersOptions } from "../../src/workers/start.js";
import { startHeraldBase, uniquePrefix } from "./herald.js";

export const ENQUEUE_TOKEN = `enq-${randomBytes(16).toString("hex")}`;
export const ADMIN_TOKEN = `adm-${randomBytes(16).toString("hex")}`;
export const TOKENS = `enqueue:${ENQUEUE_TOKEN},admin:${ADMIN_TOKEN}`;

export const asEnqueue = { authorization: `Bearer ${ENQUEUE_TOKEN}` };
export const asAdmin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface ApiHarness {
  config: Config;
  env: Record<string, string>;
  herald: Herald;
  redis: Redis;
  deadLetters: DeadLetters;
  app: HeraldHttpServer;
  /** Relays the workers' events (delivered, retrying, dead-lettered) once they run; the server listens to it. */
  events: EventEmitter;
  workers?: RunningWorkers;
  startWorkers(opts?: Partial<WorkersOptions>): Promise<RunningWorkers>;
  nextDelivery(): Promise<{ job: Job; result: Record<string, unknown> }>;
  nextDeadLetter(): Promise<{ job: Job; failureClass: string }>;
  nextRetry(): Promise<{ job: Job; error: Error }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Herald env (SMTP_URL, …), on top of the test defaults (own prefix, key, dirs). */
  env?: Record<string, string | undefined>;
  /** HTTP env (HERALD_API_TOKENS, HERALD_BOARD_READONLY, HERALD_DEV); tokens default to TOKENS. */
  httpEnv?: Record<string, string | undefined>;
  /** Start the workers right away (default) or leave it to startWorkers(). */
  workers?: boolean;
  server?: Partial<HttpServerOptions>;
}

const RELAYED = ["delivered", "retrying", "dead-lettered"];

/** The HTTP server on a fresh queue prefix against the real Redis, with real workers when asked. */
export async function startApiHarness(opts: HarnessOptions = {}): Promise<ApiHarness> {
  const base = startHeraldBase(opts.env);
  const { config, logger, herald, redis } = base;
  const deadLetters = new DeadLetters(redis, config.HERALD_PREFIX, {
    attempts: config.HERALD_ATTEMPTS,
    backoffMs: config.HERALD_BACKOFF_MS,
    keepCompletedSeconds: config.HERALD_KEEP_COMPLETED_S,
    keepCompletedCount: config.HERALD_KEEP_COMPLETED_COUNT,
  });
  const events = new EventEmitter();
  const httpConfig = loadHttpConfig({ HERALD_API_TOKENS: TOKENS, ...opts.httpEnv } as NodeJS.ProcessEnv);
  let app: HeraldHttpServer;
  try {
    // The suppression list's admin routes, as `herald api` serves them.
    const suppressions = new Suppressions(redis, config.HERALD_PREFIX, decodeKey(config.HERALD_ENCRYPTION_KEY!, "HERALD_ENCRYPTION_KEY"));
    app = await createHttpServer({
      config: httpConfig,
      herald,
      deadLetters,
      connection: redis,
      prefix: config.HERALD_PREFIX,
      events,
      logger,
      suppressions,
      ...opts.server,
    });
  } catch (error) {
    await deadLetters.close();
    await base.close();
    throw error;
  }

  // Unlike startTestHerald's queues, these wait for the next event from now on: the HTTP tests arm
  // them right before the request that causes it.
  const next = (name: string) => once(events, name);
  const harness: ApiHarness = {
    config,
    env: base.env,
    herald,
    redis,
    deadLetters,
    app,
    events,
    async startWorkers(workerOpts = {}) {
      const running = await startWorkers({ config, logger, ...workerOpts });
      for (const name of RELAYED) running.events.on(name, (...args: unknown[]) => events.emit(name, ...args));
      harness.workers = running;
      return running;
    },
    async nextDelivery() {
      const [job, result] = await next("delivered");
      return { job, result };
    },
    async nextDeadLetter() {
      const [job, failureClass] = await next("dead-lettered");
      return { job, failureClass };
    },
    async nextRetry() {
      const [job, error] = await next("retrying");
      return { job, error };
    },
    async close() {
      await app.close();
      await harness.workers?.close();
      await deadLetters.close();
      await base.close();
    },
  };
  if (opts.workers ?? true) await harness.startWorkers();
  return harness;
}

/** The HTTP server in front of a Redis nobody answers for. */
export interface UnreachableRedisApi {
  app: HeraldHttpServer;
  close(): Promise<void>;
}

/**
 * Redis "down" without mocking: a real ioredis client on a port nobody listens on, and the HTTP server
 * (with `httpEnv` over the test tokens) whose Redis waits give up after 300 ms.
 */
export async function startUnreachableRedisApi(httpEnv: Record<string, string> = {}): Promise<UnreachableRedisApi> {
  const connection = createRedis("redis://127.0.0.1:1", "producer");
  connection.on("error", () => {});
  const prefix = uniquePrefix();
  const herald = new Herald({ redis: connection, prefix, encryptionKey: randomBytes(32) });
  const deadLetters = new DeadLetters(connection, prefix);
  const app = await createHttpServer({
    config: loadHttpConfig({ HERALD_API_TOKENS: TOKENS, ...httpEnv }),
    herald,
    deadLetters,
    connection,
    prefix,
    logger: createLogger({ level: "silent" }),
    redisTimeoutMs: 300,
    readyTimeoutMs: 300,
    metrics: new HeraldMetrics({ deadLetters, scrapeTimeoutMs: 300, processMetrics: false }),
  });
  return {
    app,
    async close() {
      await app.close();
      await herald.close();
      await deadLetters.close();
      connection.disconnect();
    },
  };
}

/** Every string in a JSON value, for "does this response contain X?" checks. */
export function text(value: unknown): string {
  return JSON.stringify(value);
}

export const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString();
