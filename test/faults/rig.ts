import { setTimeout as delay } from "node:timers/promises";
import { Queue } from "bullmq";
import { vi } from "vitest";
import { ValidationError } from "../../src/contracts/index.js";
import { createRedis, type RedisClient, type RedisTarget } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { type BulkItem, Herald } from "../../src/queues/producer.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { startWorkers } from "../../src/workers/start.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startSmtpServer } from "../support/smtp-server.js";

/**
 * Shared parts of the fault tests: numbered jobs with unique codes, a producer that counts what was
 * acknowledged, a tally of deliveries by code, and a wait for the queues to run empty.
 */

/** Jobs per scenario; sized so one scenario takes well under a minute on a busy two-core machine. */
export const JOBS = Number(process.env.HERALD_FAULT_JOBS ?? 1000);
/** Every scenario's bound (setup, fault, recovery, checks). */
export const SCENARIO_TIMEOUT_MS = 100_000;

export const codeOf = (i: number) => `FC${String(i).padStart(6, "0")}`;
const CODE = /FC\d{6}/g;

export function emailItems(n: number): BulkItem[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "email-verification" as const,
    job: {
      recipient: { userId: `u${i}`, email: `user${i}@example.com` },
      code: codeOf(i),
      url: "https://login.example.com/verify",
      idempotencyKey: `fault-${i}`,
    },
  }));
}

export function smsItems(n: number): BulkItem[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "phone-verification" as const,
    job: { recipient: { userId: `u${i}`, phone: "+41791234567" }, code: codeOf(i), idempotencyKey: `fault-${i}` },
  }));
}

export interface Production {
  /** Codes whose enqueue resolved: these must all be delivered. */
  acknowledged: Set<string>;
  /** Enqueue calls that failed (during the fault) and were retried with the same items. */
  failedCalls: number;
  done: Promise<void>;
}

/**
 * Enqueues in batches of `batch`, one every `everyMs`, so the fault lands while producers are still
 * writing. A failed batch is sent again as it was (same idempotency keys): the producer retry the README
 * asks for. A job counts as acknowledged only once its enqueue resolved.
 */
export function produce(herald: Herald, items: BulkItem[], opts: { batch?: number; everyMs?: number } = {}): Production {
  const batch = opts.batch ?? 50;
  const everyMs = opts.everyMs ?? 0;
  const production: Production = { acknowledged: new Set(), failedCalls: 0, done: Promise.resolve() };
  production.done = (async () => {
    for (let start = 0; start < items.length; start += batch) {
      const slice = items.slice(start, start + batch);
      for (;;) {
        try {
          await herald.enqueueBulk(slice);
          for (const item of slice) production.acknowledged.add((item.job as { code: string }).code);
          break;
        } catch (error) {
          if (error instanceof ValidationError) throw error;
          production.failedCalls++;
          await delay(200);
        }
      }
      if (everyMs) await delay(everyMs);
    }
  })();
  return production;
}

/** Resolves once half the jobs are acknowledged: the moment to inject a fault that should hit producers too. */
export async function untilProducedHalf(production: Production, jobs: number): Promise<void> {
  await vi.waitFor(
    () => {
      if (production.acknowledged.size < jobs / 2) throw new Error(`${production.acknowledged.size} of ${jobs} acknowledged`);
    },
    { timeout: 60_000, interval: 20 },
  );
}

export interface Tally {
  acknowledged: number;
  /** Messages the provider accepted, duplicates included. */
  delivered: number;
  unique: number;
  duplicates: number;
  /** Acknowledged codes that never arrived. */
  lost: string[];
}

/** Counts deliveries by the code in each message's text. */
export function tally(texts: string[], acknowledged: Set<string>): Tally {
  const seen = new Map<string, number>();
  for (const text of texts) {
    for (const code of new Set(text.match(CODE) ?? [])) seen.set(code, (seen.get(code) ?? 0) + 1);
  }
  const delivered = [...seen.values()].reduce((a, b) => a + b, 0);
  return {
    acknowledged: acknowledged.size,
    delivered,
    unique: seen.size,
    duplicates: delivered - seen.size,
    lost: [...acknowledged].filter((code) => !seen.has(code)),
  };
}

/** A view of one Herald's queues in a Redis, read with its own connection (it must survive the faults). */
export class QueueProbe {
  private readonly connection: RedisClient;
  private readonly queues: Queue[];
  private readonly deadLetters: DeadLetters;

  /** `prefix`: the dead-letter queue's; `queuePrefixes`: the delivery queues' (every shard), default the same. */
  constructor(url: string | RedisTarget, prefix: string, queueNames: string[], queuePrefixes: string[] = [prefix]) {
    this.connection = createRedis(url, "worker");
    this.connection.on("error", () => {});
    this.queues = queuePrefixes.flatMap((p) => queueNames.map((name) => new Queue(name, { connection: this.connection, prefix: p })));
    for (const q of this.queues) q.on("error", () => {});
    this.deadLetters = new DeadLetters(this.connection, prefix);
    this.deadLetters.queue.on("error", () => {});
  }

  /** Jobs not yet finished (waiting, delayed, active, prioritized) plus failed ones not yet moved. */
  async pending(): Promise<number> {
    let n = 0;
    for (const q of this.queues) {
      const counts = await q.getJobCounts("waiting", "delayed", "active", "prioritized", "failed");
      n += Object.values(counts).reduce((a, b) => a + b, 0);
    }
    return n;
  }

  deadLettered(): Promise<number> {
    return this.deadLetters.count();
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
    await this.deadLetters.close();
    this.connection.disconnect();
  }
}

/**
 * Waits until every acknowledged code was delivered and the queues are empty. The queues are read
 * between deliveries because no event says "a Redis in another process is empty".
 */
export async function waitForDrain(opts: { texts: () => string[]; production: Production; probe: QueueProbe; timeoutMs: number }): Promise<Tally> {
  await opts.production.done;
  await vi.waitFor(
    async () => {
      const t = tally(opts.texts(), opts.production.acknowledged);
      if (t.lost.length > 0) throw new Error(`${t.lost.length} of ${t.acknowledged} acknowledged not delivered yet (first: ${t.lost.slice(0, 3).join(", ")})`);
      const pending = await opts.probe.pending();
      if (pending > 0) throw new Error(`${pending} job(s) still pending`);
    },
    { timeout: opts.timeoutMs, interval: 250 },
  );
  return tally(opts.texts(), opts.production.acknowledged);
}

/**
 * Runs cleanups in reverse order, each even if an earlier one failed or hung (a worker closing against a
 * dead Redis may wait for ever): the redis-server and servers added first are always stopped.
 */
export class Cleanups {
  private readonly stack: (() => unknown)[] = [];
  add(fn: () => unknown): void {
    this.stack.push(fn);
  }
  async run(eachMs = 10_000): Promise<void> {
    for (const fn of this.stack.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<void>(
        (done) => (timer = setTimeout(() => (console.error(`cleanup gave up after ${eachMs} ms: ${String(fn).slice(0, 80)}`), done()), eachMs)),
      );
      try {
        await Promise.race([Promise.resolve().then(fn), gaveUp]);
      } catch (error) {
        console.error("cleanup failed:", error);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/**
 * The set-up of the Redis fault scenarios: a Redis of their own (AOF, noeviction), an SMTP server, email
 * workers, and a producer on its own connection that gives up after 3 s (and is retried by `produce`).
 */
export async function startRedisFaultScenario(cleanups: Cleanups) {
  const redis = await startRedisServer();
  cleanups.add(() => redis.stop());
  const smtp = await startSmtpServer();
  cleanups.add(() => smtp.close());
  const config = loadConfig(
    testEnv({ REDIS_URL: redis.url, SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>", HERALD_ATTEMPTS: "8", HERALD_BACKOFF_MS: "300" }),
  );
  const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
  cleanups.add(() => workers.close());
  const producerRedis = createRedis(redis.url, "producer");
  producerRedis.on("error", () => {}); // enqueue errors during the fault are counted by `produce`
  cleanups.add(() => producerRedis.disconnect());
  const herald = new Herald({ redis: producerRedis, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY, timeoutMs: 3000 });
  cleanups.add(() => herald.close());
  const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["email"]);
  cleanups.add(() => probe.close());
  return { redis, smtp, config, herald, probe };
}
