import { afterAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis, redisTarget } from "../../src/queues/connection.js";
import { deliveryPrefixes, shardPrefix } from "../../src/queues/names.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { Cleanups, emailItems, produce, QueueProbe, untilProducedHalf, waitForDrain } from "../faults/rig.js";
import { testEnv } from "../support/herald.js";
import { onNode, startRedisCluster } from "../support/redis-cluster.js";
import { startSmtpServer } from "../support/smtp-server.js";

const JOBS = Number(process.env.HERALD_SCALE_JOBS ?? 2000);
const SHARDS = 3;

describe("Redis Cluster: kill -9 a master under load (HERALD_SHARDS=3, HERALD_REPLICAS_ACK=1)", { timeout: 120_000 }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("the replica takes over; every acknowledged job is delivered, duplicates at most the jobs in flight, no restart of Herald", async () => {
    const cluster = await startRedisCluster();
    cleanups.add(() => cluster.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const config = loadConfig(
      testEnv({
        REDIS_CLUSTER_NODES: cluster.seeds,
        HERALD_SHARDS: String(SHARDS),
        HERALD_REPLICAS_ACK: "1",
        SMTP_URL: smtp.url,
        SMTP_FROM: "Acme <no-reply@acme.test>",
        HERALD_ATTEMPTS: "8",
        HERALD_BACKOFF_MS: "300",
        HERALD_LOCK_MS: "3000",
        HERALD_STALLED_INTERVAL_MS: "1000",
      }),
    );
    const target = redisTarget(config);
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    cleanups.add(() => workers.close());
    const producerRedis = createRedis(target, "producer");
    producerRedis.on("error", () => {}); // failed enqueues are counted and retried by `produce`
    cleanups.add(() => producerRedis.disconnect());
    const herald = new Herald({
      redis: producerRedis,
      prefix: config.HERALD_PREFIX,
      shards: SHARDS,
      replicasAck: 1,
      replicasAckTimeoutMs: 1000,
      encryptionKey: config.HERALD_ENCRYPTION_KEY,
      timeoutMs: 3000,
    });
    cleanups.add(() => herald.close());
    const prefixes = deliveryPrefixes(config.HERALD_PREFIX, SHARDS);
    const probe = new QueueProbe(target, config.HERALD_PREFIX, ["email"], prefixes);
    cleanups.add(() => probe.close());

    const production = produce(herald, emailItems(JOBS), { batch: 50, everyMs: 50 });
    await untilProducedHalf(production, JOBS);
    await smtp.waitForMails(1);
    const acknowledgedAtFault = production.acknowledged.size;

    // The master of shard 0's slot dies; its replica must take over (cluster-node-timeout 1500 ms).
    const slot = Number(await onNode(cluster.nodes[0]!.port, (c) => c.cluster("KEYSLOT", shardPrefix(config.HERALD_PREFIX, 0, SHARDS))));
    const victim = await cluster.masterOf(slot);
    const killedAt = Date.now();
    await victim.kill9();
    await vi.waitFor(
      async () => {
        if ((await cluster.masterOf(slot)).port === victim.port) throw new Error("no failover yet");
      },
      { timeout: 30_000, interval: 100 },
    );
    const failoverMs = Date.now() - killedAt;
    // Back from its files, it rejoins as the new master's replica: acknowledgements (WAIT 1) are possible again.
    await victim.restart();

    const result = await waitForDrain({ rig: { texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), probe }, production, timeoutMs: 90_000 });
    // In flight: what the workers can hold at once over all their queues (only the failed shard's are at
    // risk, plus those started and finished within the replication lag the promoted replica missed).
    const inFlight = config.HERALD_EMAIL_CONCURRENCY * prefixes.length;
    console.info(
      "cluster master kill -9:",
      JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls, failoverMs, inFlight }),
    );
    expect(acknowledgedAtFault).toBeLessThan(JOBS);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(inFlight);
    expect(await probe.deadLettered()).toBe(0);
  });
});
