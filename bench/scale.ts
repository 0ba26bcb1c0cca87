// Scale benchmark on a 6-node Redis Cluster started here (3 masters, 3 replicas, all on this machine):
//  - the latency an enqueue pays for HERALD_REPLICAS_ACK=1 (Redis WAIT) against none;
//  - enqueue and delivery throughput with HERALD_SHARDS=1 against 3, at the same total worker concurrency.
// Prints one JSON object. Absolute numbers on a shared machine are noise: read the ratios.
import { randomBytes, randomUUID } from "node:crypto";
import type { EmailProvider } from "../src/channels/provider.js";
import { loadConfig } from "../src/config/index.js";
import { createLogger } from "../src/logger.js";
import { createRedis, redisTarget, type RedisClient } from "../src/queues/connection.js";
import { Herald } from "../src/queues/producer.js";
import { startWorkers } from "../src/workers/start.js";
import { startRedisCluster } from "../test/support/redis-cluster.js";

const LATENCY_JOBS = Number(process.env.BENCH_LATENCY_JOBS ?? 400);
const PRODUCERS = Number(process.env.BENCH_PRODUCERS ?? 8);
const ENQUEUES_PER_PRODUCER = Number(process.env.BENCH_ENQUEUES ?? 250);
const DELIVERY_JOBS = Number(process.env.BENCH_DELIVERY_JOBS ?? 3000);
/** Worker concurrency summed over all shards, the same in both runs. */
const TOTAL_CONCURRENCY = 30;

const jobFor = (i: number) => ({
  recipient: { userId: `u${i}`, email: `user${i}@example.com` },
  code: "K7Q-44P",
  url: "https://login.example.com/reset?code=K7Q-44P",
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(3);
};

/** A provider that takes 5 ms per mail, like a fast relay: the bench measures Herald and Redis, not SMTP. */
const relay: EmailProvider = {
  provider: "bench",
  async send() {
    await new Promise((r) => setTimeout(r, 5));
    return { provider: "bench", messageId: randomUUID(), acceptedAt: new Date().toISOString() };
  },
  classify: () => ({ permanent: false, code: "bench" }),
  async close() {},
};

const cluster = await startRedisCluster();
const seeds = cluster.seeds;
const env = (extra: Record<string, string>) => ({
  REDIS_CLUSTER_NODES: seeds,
  HERALD_PREFIX: `{bench-${randomUUID().slice(0, 8)}}`,
  HERALD_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  HERALD_EMAIL_CHANNEL: "outbox",
  HERALD_SMS_CHANNEL: "outbox",
  LOG_LEVEL: "silent",
  ...extra,
});

async function withProducer<T>(config: ReturnType<typeof loadConfig>, fn: (herald: Herald) => Promise<T>): Promise<T> {
  const connection: RedisClient = createRedis(redisTarget(config), "producer");
  const herald = new Herald({
    redis: connection,
    prefix: config.HERALD_PREFIX,
    shards: config.HERALD_SHARDS,
    replicasAck: config.HERALD_REPLICAS_ACK,
    encryptionKey: config.HERALD_ENCRYPTION_KEY,
    limits: false,
  });
  try {
    return await fn(herald);
  } finally {
    await herald.close();
    connection.disconnect();
  }
}

/** One enqueue at a time: the latency a caller sees, without and with HERALD_REPLICAS_ACK=1. */
async function ackLatency() {
  console.error("bench: enqueue latency, HERALD_REPLICAS_ACK 0 vs 1");
  const measure = (ack: string) =>
    withProducer(loadConfig(env({ HERALD_REPLICAS_ACK: ack, HERALD_SHARDS: "3" })), async (herald) => {
      for (let i = 0; i < 50; i++) await herald.passwordReset(jobFor(i)); // warm-up: connections, scripts, slots
      const times: number[] = [];
      for (let i = 0; i < LATENCY_JOBS; i++) {
        const start = performance.now();
        await herald.passwordReset(jobFor(i));
        times.push(performance.now() - start);
      }
      return { p50Ms: percentile(times, 50), p95Ms: percentile(times, 95), p99Ms: percentile(times, 99) };
    });
  const none = await measure("0");
  const one = await measure("1");
  return {
    jobs: LATENCY_JOBS,
    replicasAck0: none,
    replicasAck1: one,
    p50Ratio: +(one.p50Ms / none.p50Ms).toFixed(2),
    p95Ratio: +(one.p95Ms / none.p95Ms).toFixed(2),
  };
}

/** Many producers enqueueing at once, into 1 or 3 shards. */
async function enqueueThroughput(shards: number) {
  return withProducer(loadConfig(env({ HERALD_SHARDS: String(shards) })), async (herald) => {
    for (let i = 0; i < 50; i++) await herald.passwordReset(jobFor(i));
    const start = performance.now();
    await Promise.all(
      Array.from({ length: PRODUCERS }, async (_, p) => {
        for (let i = 0; i < ENQUEUES_PER_PRODUCER; i++) await herald.passwordReset(jobFor(p * ENQUEUES_PER_PRODUCER + i));
      }),
    );
    return Math.round((PRODUCERS * ENQUEUES_PER_PRODUCER) / ((performance.now() - start) / 1000));
  });
}

/** Workers draining a full queue: 1 shard at concurrency 30 vs 3 shards at 10 each. */
async function deliveryThroughput(shards: number) {
  const config = loadConfig(env({ HERALD_SHARDS: String(shards) }));
  await withProducer(config, async (herald) => {
    for (let start = 0; start < DELIVERY_JOBS; start += 500) {
      await herald.enqueueBulk(
        Array.from({ length: Math.min(500, DELIVERY_JOBS - start) }, (_, i) => ({ kind: "password-reset" as const, job: jobFor(start + i) })),
      );
    }
  });
  const start = performance.now();
  const workers = await startWorkers({
    config,
    logger: createLogger({ level: "silent" }),
    channels: ["email"],
    concurrency: { email: Math.round(TOTAL_CONCURRENCY / shards) },
    providers: { email: relay, sms: undefined as never },
  });
  await new Promise<void>((resolve) => {
    let done = 0;
    workers.events.on("delivered", () => ++done === DELIVERY_JOBS && resolve());
  });
  const perSec = Math.round(DELIVERY_JOBS / ((performance.now() - start) / 1000));
  await workers.close();
  return perSec;
}

try {
  const latency = await ackLatency();
  console.error("bench: enqueue throughput, 1 vs 3 shards");
  const enqueue1 = await enqueueThroughput(1);
  const enqueue3 = await enqueueThroughput(3);
  console.error("bench: delivery throughput, 1 vs 3 shards");
  const deliver1 = await deliveryThroughput(1);
  const deliver3 = await deliveryThroughput(3);
  console.log(
    JSON.stringify(
      {
        node: process.version,
        topology: "Redis Cluster, 3 masters + 3 replicas, all on this machine",
        replicasAck: latency,
        enqueue: {
          producers: PRODUCERS,
          jobs: PRODUCERS * ENQUEUES_PER_PRODUCER,
          shards1PerSec: enqueue1,
          shards3PerSec: enqueue3,
          ratio: +(enqueue3 / enqueue1).toFixed(2),
        },
        delivery: {
          jobs: DELIVERY_JOBS,
          totalConcurrency: TOTAL_CONCURRENCY,
          providerMs: 5,
          shards1PerSec: deliver1,
          shards3PerSec: deliver3,
          ratio: +(deliver3 / deliver1).toFixed(2),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await cluster.stop();
}
