import type { EventEmitter } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import type { Job } from "bullmq";
import { Redis } from "ioredis";
import { loadConfig, type Config } from "../../src/config/index.js";
import { limitSettingsOf } from "../../src/config/producer.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers, type RunningWorkers, type WorkersOptions } from "../../src/workers/start.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A queue prefix of its own for every test, so no test can see another's jobs. */
export function uniquePrefix(): string {
  return `{herald-test-${randomUUID().slice(0, 8)}}`;
}

/**
 * A production-like environment (no HERALD_DEV): the outbox is chosen explicitly for a channel whose
 * provider the test does not configure, and the test SMTP server (no STARTTLS) is allowed in clear text.
 */
/** A test environment: any variables, and always these (no test takes them out). */
export type TestEnv = Record<string, string> & Record<"REDIS_URL" | "HERALD_PREFIX" | "HERALD_DATA_DIR" | "HERALD_OUTBOX_DIR", string>;

export function testEnv(extra: Record<string, string | undefined> = {}): TestEnv {
  const env: Record<string, string | undefined> = {
    ...(extra.SMTP_URL ? { SMTP_REQUIRE_TLS: "0" } : { HERALD_EMAIL_CHANNEL: "outbox" }),
    ...(extra.TWILIO_ACCOUNT_SID ? {} : { HERALD_SMS_CHANNEL: "outbox" }),
    REDIS_URL,
    HERALD_PREFIX: uniquePrefix(),
    HERALD_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    HERALD_DATA_DIR: mkdtempSync(join(tmpdir(), "herald-data-")),
    HERALD_OUTBOX_DIR: mkdtempSync(join(tmpdir(), "herald-outbox-")),
    HERALD_BACKOFF_MS: "20",
    HERALD_ATTEMPTS: "5",
    LOG_LEVEL: "silent",
    // On by default in Herald; the suites send to one address many times (test/limits turns them on).
    HERALD_LIMITS: "0",
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as TestEnv;
}

/** What every harness starts from: config on a fresh prefix, a producer and a plain Redis client. */
export interface HeraldBase {
  config: Config;
  env: TestEnv;
  logger: Logger;
  herald: Herald;
  redis: Redis;
  /** Closes the producer, deletes the prefix's keys and disconnects. */
  close(): Promise<void>;
}

export function startHeraldBase(env: Record<string, string | undefined> = {}): HeraldBase {
  const fullEnv = testEnv(env);
  const config = loadConfig(fullEnv);
  const logger = createLogger({ level: config.LOG_LEVEL });
  const herald = new Herald({
    redis: config.REDIS_URL,
    prefix: config.HERALD_PREFIX,
    encryptionKey: config.HERALD_ENCRYPTION_KEY,
    retry: { attempts: config.HERALD_ATTEMPTS, backoffMs: config.HERALD_BACKOFF_MS },
    limits: limitSettingsOf(config),
  });
  const redis = new Redis(config.REDIS_URL);
  return {
    config,
    env: fullEnv,
    logger,
    herald,
    redis,
    async close() {
      await herald.close();
      await deleteKeys(redis, config.HERALD_PREFIX);
      redis.disconnect();
    },
  };
}

export interface TestHerald {
  config: Config;
  env: Record<string, string>;
  herald: Herald;
  workers: RunningWorkers;
  redis: Redis;
  /** Resolves with the next job that reaches the dead-letter queue. */
  nextDeadLetter(): Promise<{ job: Job; failureClass: string }>;
  /** Resolves with the next delivered job's result. */
  nextDelivery(): Promise<{ job: Job; result: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Producer and workers on a fresh prefix against the real Redis; SMTP/Twilio chosen by `env`. */
export async function startTestHerald(env: Record<string, string | undefined> = {}, opts: Partial<WorkersOptions> = {}): Promise<TestHerald> {
  const base = startHeraldBase(env);
  const { config, logger, herald, redis } = base;
  const workers = await startWorkers({ config, logger, ...opts });
  const deliveries = new EventQueue(workers.events, "delivered", (job, result) => ({ job: job as Job, result: result as Record<string, unknown> }));
  const deadLetters = new EventQueue(workers.events, "dead-lettered", (job, failureClass) => ({ job: job as Job, failureClass: failureClass as string }));
  return {
    config,
    env: base.env,
    herald,
    workers,
    redis,
    nextDeadLetter: () => deadLetters.next(),
    nextDelivery: () => deliveries.next(),
    async close() {
      await workers.close();
      await base.close();
    },
  };
}

/**
 * Records every event from the start, so a test that awaits "the next delivery" after enqueueing can
 * never miss one that happened first; each call takes the next recorded event in order.
 */
class EventQueue<T> {
  private readonly seen: T[] = [];
  private taken = 0;
  private readonly waiting: ((value: T) => void)[] = [];

  constructor(events: EventEmitter, name: string, map: (...args: unknown[]) => T) {
    events.on(name, (...args: unknown[]) => {
      const value = map(...args);
      const waiter = this.waiting.shift();
      if (waiter) {
        this.taken++;
        waiter(value);
      }
      this.seen.push(value);
    });
  }

  next(): Promise<T> {
    if (this.taken < this.seen.length) return Promise.resolve(this.seen[this.taken++] as T);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", "1000");
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== "0");
}

/** Every string value stored under a prefix (strings, hashes, lists, sets, zsets, streams), for "is this secret anywhere?" checks. */
export async function dumpValues(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", "1000");
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      out.push(key);
      if (type === "string") out.push((await redis.get(key)) ?? "");
      else if (type === "hash") out.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === "list") out.push(...(await redis.lrange(key, 0, -1)));
      else if (type === "set") out.push(...(await redis.smembers(key)));
      else if (type === "zset") out.push(...(await redis.zrange(key, "0", "-1")));
      else if (type === "stream") out.push(JSON.stringify(await redis.xrange(key, "-", "+")));
    }
  } while (cursor !== "0");
  return out.join("\n");
}
