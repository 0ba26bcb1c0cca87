import { afterAll, describe, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { redisTarget } from "../../src/queues/connection.js";
import { deliveryPrefixes, shardPrefix } from "../../src/queues/names.js";
import { startWorkers } from "../../src/workers/start.js";
import { Cleanups, QueueProbe } from "../faults/rig.js";
import { onNode, startRedisCluster } from "../support/redis-cluster.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { failoverEnv, failoverProducer, killMasterUnderLoad } from "./failover-rig.js";

const SHARDS = 3;

describe("Redis Cluster: kill -9 a master under load (HERALD_SHARDS=3, HERALD_REPLICAS_ACK=1)", { timeout: 120_000 }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("the replica takes over; every acknowledged job is delivered, duplicates at most the jobs in flight, no restart of Herald", async () => {
    const cluster = await startRedisCluster();
    cleanups.add(() => cluster.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const config = loadConfig(failoverEnv(smtp, { REDIS_CLUSTER_NODES: cluster.seeds, HERALD_SHARDS: String(SHARDS) }));
    const target = redisTarget(config);
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    cleanups.add(() => workers.close());
    const herald = failoverProducer(cleanups, target, config, { shards: SHARDS, replicasAckTimeoutMs: 1000 });
    const prefixes = deliveryPrefixes(config.HERALD_PREFIX, SHARDS);
    const probe = new QueueProbe(target, config.HERALD_PREFIX, ["email"], prefixes);
    cleanups.add(() => probe.close());

    // The master of shard 0's slot dies; its replica must take over (cluster-node-timeout 1500 ms).
    const slot = Number(await onNode(cluster.nodes[0]!.port, (c) => c.cluster("KEYSLOT", shardPrefix(config.HERALD_PREFIX, 0, SHARDS))));
    const victim = await cluster.masterOf(slot);
    await killMasterUnderLoad({
      label: "cluster master kill -9:",
      herald,
      smtp,
      probe,
      kill: () => victim.kill9(),
      failedOver: async () => (await cluster.masterOf(slot)).port !== victim.port,
      // Back from its files, it rejoins as the new master's replica: acknowledgements (WAIT 1) are possible again.
      restart: () => victim.restart(),
      // In flight: what the workers can hold at once over all their queues (only the failed shard's are at
      // risk, plus those started and finished within the replication lag the promoted replica missed).
      inFlight: config.HERALD_EMAIL_CONCURRENCY * prefixes.length,
    });
  });
});
