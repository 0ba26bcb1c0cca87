import { afterAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { redisTarget } from "../../src/queues/connection.js";
import { startService } from "../../src/cli/service.js";
import { Cleanups, QueueProbe } from "../faults/rig.js";
import { ENQUEUE_TOKEN, TOKENS } from "../support/harness.js";
import { startRedisSentinels } from "../support/redis-cluster.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { failoverEnv, failoverProducer, killMasterUnderLoad } from "./failover-rig.js";

describe("Sentinel (1 master, 1 replica, 3 sentinels): kill -9 the master under load (HERALD_REPLICAS_ACK=1)", { timeout: 120_000 }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("the sentinels promote the replica; Herald follows them without a restart, loses no acknowledged job, duplicates at most the jobs in flight", async () => {
    const topology = await startRedisSentinels();
    cleanups.add(() => topology.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const config = loadConfig(
      failoverEnv(smtp, {
        REDIS_SENTINELS: topology.sentinelList,
        REDIS_SENTINEL_NAME: topology.name,
        HERALD_API_TOKENS: TOKENS,
        HERALD_HTTP_PORT: "0",
        HERALD_HTTP_HOST: "127.0.0.1",
      }),
    );
    const target = redisTarget(config);
    expect(target.mode).toBe("sentinel");
    // The service as deployed: workers and the HTTP API in one process, started once, never restarted.
    const service = await startService({
      config,
      logger: createLogger({ level: "silent" }),
      redisExplicit: true,
      workers: true,
      http: true,
      channels: ["email"],
    });
    cleanups.add(() => service.close());
    const herald = failoverProducer(cleanups, target, config);
    const probe = new QueueProbe(target, config.HERALD_PREFIX, ["email"]);
    cleanups.add(() => probe.close());

    await killMasterUnderLoad({
      label: "sentinel master kill -9:",
      herald,
      smtp,
      probe,
      kill: () => topology.master.kill9(),
      failedOver: async () => (await topology.currentMasterPort()) === topology.replica.port,
      // Restarted, the old master is turned into the new one's replica by the sentinels: WAIT 1 can succeed again.
      restart: () => topology.master.restart(),
      // In flight at the failover: the jobs the worker held (its concurrency), plus those that started and
      // finished within the replication lag (the promoted replica never heard of them); allowed as many again.
      inFlight: 2 * config.HERALD_EMAIL_CONCURRENCY,
    });

    // The API's own connection followed the failover too: an enqueue over HTTP is acknowledged (by the
    // new master and its new replica) and delivered.
    const res = await fetch(`${service.url}/v1/notifications/email-verification`, {
      method: "POST",
      headers: { authorization: `Bearer ${ENQUEUE_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient: { userId: "api", email: "api@example.com" }, code: "API777", url: "https://login.example.com/verify" }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await vi.waitFor(async () => {
      const status = await fetch(`${service.url}/v1/notifications/${id}`, { headers: { authorization: `Bearer ${ENQUEUE_TOKEN}` } });
      expect(((await status.json()) as { status: string }).status).toBe("delivered");
    });
    expect(smtp.mails.some((m) => m.parsed.text?.includes("API777"))).toBe(true);
  });
});
