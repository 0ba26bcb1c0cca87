import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import { Queue } from "bullmq";
import { vi } from "vitest";
import { ValidationError } from "../../src/contracts/index.js";
import { createRedis, type RedisClient, type RedisTarget } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { type BulkItem, Herald } from "../../src/queues/producer.js";
import { type Config, loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { type RunningWorkers, startWorkers } from "../../src/workers/start.js";
import { spawnCli, waitForLog } from "../support/cli.js";
import { type TestEnv, testEnv } from "../support/herald.js";
import { type RedisProcess, startRedisServer } from "../support/redis-server.js";
import { type SmtpTestServer, startSmtpServer } from "../support/smtp-server.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";
import { startTcpGate, type TcpGate } from "./tcp-gate.js";

/**
 * Shared parts of the fault tests: the set-up (a Redis of their own, the provider's test server, workers in
 * this process or spawned, a producer, a probe), numbered jobs with unique codes, a production that counts
 * what was acknowledged, a tally of deliveries by code, and a wait for the queues to run empty.
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
export async function waitForDrain(opts: { rig: Pick<FaultRigBase, "texts" | "probe">; production: Production; timeoutMs: number }): Promise<Tally> {
  const { rig, production } = opts;
  await production.done;
  await vi.waitFor(
    async () => {
      const t = tally(rig.texts(), production.acknowledged);
      if (t.lost.length > 0) throw new Error(`${t.lost.length} of ${t.acknowledged} acknowledged not delivered yet (first: ${t.lost.slice(0, 3).join(", ")})`);
      const pending = await rig.probe.pending();
      if (pending > 0) throw new Error(`${pending} job(s) still pending`);
    },
    { timeout: opts.timeoutMs, interval: 250 },
  );
  return tally(rig.texts(), production.acknowledged);
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

/** What a scenario delivers through: SMTP (the email queue) or the Twilio test server (the sms queue). */
export interface RigOptions {
  provider: "smtp" | "twilio";
  /**
   * SMTP through a TCP gate the test can shut and open again (see tcp-gate.ts); it also ends a killed
   * worker's sessions politely toward the SMTP server.
   */
  gate?: boolean;
  /** Further variables (retry policy, NODE_OPTIONS, ...), over the rig's own. */
  env?: Record<string, string | undefined>;
  /** The scenario Redis' AOF fsync policy (see startRedisServer). */
  appendFsync?: "everysec" | "always";
}

export interface FaultRigBase {
  /** A Redis of the scenario's own (AOF, noeviction), which the test may kill, pause and restart. */
  redis: RedisProcess;
  /** The environment of every worker, in-process or spawned. */
  env: TestEnv;
  config: Config;
  channel: "email" | "sms";
  /** Reads the channel's queue and the dead letters on a connection of its own. */
  probe: QueueProbe;
  /** The text of every message the provider accepted, duplicates included. */
  texts(): string[];
  /** Resolves once the provider has accepted n messages. */
  waitForDeliveries(n: number): Promise<unknown>;
}

export type FaultRig<O extends RigOptions> = FaultRigBase &
  (O["provider"] extends "smtp" ? { smtp: SmtpTestServer } : { twilio: TwilioServer }) &
  (O["gate"] extends true ? { gate: TcpGate } : unknown);

/** A Redis, the provider's test server (SMTP possibly behind a gate), the environment naming them, and a probe. */
export async function startFaultRig<const O extends RigOptions>(cleanups: Cleanups, opts: O): Promise<FaultRig<O>> {
  const redis = await startRedisServer({ appendFsync: opts.appendFsync });
  cleanups.add(() => redis.stop());
  const base = {
    REDIS_URL: redis.url,
    // Spawned workers report their start at info; in-process workers log nothing (startInProcessWorkers).
    LOG_LEVEL: "info",
  };
  let provider: { smtp: SmtpTestServer; gate?: TcpGate } | { twilio: TwilioServer };
  let providerEnv: Record<string, string>;
  let texts: () => string[];
  let waitForDeliveries: (n: number) => Promise<unknown>;
  if (opts.provider === "smtp") {
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const gate = opts.gate ? await startTcpGate(smtp.port) : undefined;
    if (gate) cleanups.add(() => gate.stop());
    provider = gate ? { smtp, gate } : { smtp };
    providerEnv = { SMTP_URL: `smtp://127.0.0.1:${gate?.port ?? smtp.port}`, SMTP_FROM: "Acme <no-reply@acme.test>" };
    texts = () => smtp.mails.map((m) => m.parsed.text ?? "");
    waitForDeliveries = (n) => smtp.waitForMails(n);
  } else {
    const twilio = await startTwilioServer();
    cleanups.add(() => twilio.close());
    provider = { twilio };
    providerEnv = {
      ...twilioEnv(twilio),
    };
    texts = () => twilio.messages.map((m) => m.Body ?? "");
    waitForDeliveries = (n) => twilio.waitForMessages(n, 30_000);
  }
  const env = testEnv({ ...base, ...providerEnv, ...opts.env });
  const config = loadConfig(env);
  const channel = opts.provider === "smtp" ? "email" : "sms";
  const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, [channel]);
  cleanups.add(() => probe.close());
  return { redis, env, config, channel, probe, texts, waitForDeliveries, ...provider } as unknown as FaultRig<O>;
}

/** Workers for the rig's channel in this process (they log nothing). */
export async function startInProcessWorkers(cleanups: Cleanups, rig: FaultRigBase): Promise<RunningWorkers> {
  const workers = await startWorkers({ config: { ...rig.config, LOG_LEVEL: "silent" }, logger: createLogger({ level: "silent" }), channels: [rig.channel] });
  cleanups.add(() => workers.close());
  return workers;
}

/** A `herald worker` process for the rig's channel, resolved once it has started; SIGKILLed at cleanup if still alive. */
export async function startWorkerProcess(cleanups: Cleanups, rig: FaultRigBase, opts: { concurrency: number }): Promise<ChildProcess> {
  const child = spawnCli(["worker", "--queues", rig.channel, "--concurrency", String(opts.concurrency)], rig.env);
  cleanups.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  });
  child.stdout!.resume();
  await waitForLog(child, "workers started", 60_000);
  child.stderr!.resume(); // pino writes a line per delivery; keep the pipe flowing
  return child;
}

/**
 * A producer on a Redis connection of its own. Its enqueue errors during a Redis fault are counted by
 * `produce`, which retries them; `timeoutMs` is how long one enqueue waits for Redis (the SDK's default: 10 s).
 */
export function startProducer(cleanups: Cleanups, rig: FaultRigBase, opts: { timeoutMs?: number } = {}): Herald {
  const connection = createRedis(rig.redis.url, "producer");
  connection.on("error", () => {});
  cleanups.add(() => connection.disconnect());
  const herald = new Herald({
    redis: connection,
    prefix: rig.config.HERALD_PREFIX,
    encryptionKey: rig.config.HERALD_ENCRYPTION_KEY,
    timeoutMs: opts.timeoutMs,
  });
  cleanups.add(() => herald.close());
  return herald;
}

/** The common scenario: a rig, its workers in this process, and a producer. */
export async function startFaultScenario<const O extends RigOptions>(cleanups: Cleanups, opts: O & { producerTimeoutMs?: number }) {
  const rig = await startFaultRig(cleanups, opts);
  const workers = await startInProcessWorkers(cleanups, rig);
  const herald = startProducer(cleanups, rig, { timeoutMs: opts.producerTimeoutMs });
  return { ...rig, workers, herald };
}

/**
 * The set-up of the Redis fault scenarios: SMTP without a gate, and a producer that gives up after 3 s
 * (and is retried by `produce`).
 */
export function startRedisFaultScenario(cleanups: Cleanups, opts: { appendFsync?: "everysec" | "always" } = {}) {
  return startFaultScenario(cleanups, {
    provider: "smtp",
    env: { HERALD_ATTEMPTS: "8", HERALD_BACKOFF_MS: "300" },
    producerTimeoutMs: 3000,
    appendFsync: opts.appendFsync,
  });
}

/**
 * Starts enqueueing JOBS jobs of the rig's channel, 25 every 200 ms, and resolves once half are acknowledged
 * and the provider has delivered one: the moment to inject a fault that hits producers and deliveries alike.
 */
export async function loadUntilHalfway(rig: FaultRigBase, herald: Herald): Promise<Production> {
  const production = produce(herald, rig.channel === "email" ? emailItems(JOBS) : smsItems(JOBS), { batch: 25, everyMs: 200 });
  await untilProducedHalf(production, JOBS);
  await rig.waitForDeliveries(1);
  return production;
}
