import { afterAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis, redisTarget } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { startService } from "../../src/cli/service.js";
import { Cleanups, emailItems, produce, QueueProbe, untilProducedHalf, waitForDrain } from "../faults/rig.js";
import { ENQUEUE_TOKEN, TOKENS } from "../support/harness.js";
import { testEnv } from "../support/herald.js";
import { startRedisSentinels } from "../support/redis-cluster.js";
import { startSmtpServer } from "../support/smtp-server.js";

const JOBS = Number(process.env.HERALD_SCALE_JOBS ?? 2000);

describe("Sentinel (1 master, 1 replica, 3 sentinels): kill -9 the master under load (HERALD_REPLICAS_ACK=1)", { timeout: 120_000 }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("the sentinels promote the replica; Herald follows them without a restart, loses no acknowledged job, duplicates at most the jobs in flight", async () => {
    const topology = await startRedisSentinels();
    cleanups.add(() => topology.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const config = loadConfig(
      testEnv({
        REDIS_SENTINELS: topology.sentinelList,
        REDIS_SENTINEL_NAME: topology.name,
        HERALD_REPLICAS_ACK: "1",
        SMTP_URL: smtp.url,
        SMTP_FROM: "Acme <no-reply@acme.test>",
        HERALD_ATTEMPTS: "8",
        HERALD_BACKOFF_MS: "300",
        HERALD_LOCK_MS: "3000",
        HERALD_STALLED_INTERVAL_MS: "1000",
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
    const producerRedis = createRedis(target, "producer");
    producerRedis.on("error", () => {}); // failed enqueues are counted and retried by `produce`
    cleanups.add(() => producerRedis.disconnect());
    const herald = new Herald({
      redis: producerRedis,
      prefix: config.HERALD_PREFIX,
      replicasAck: 1,
      encryptionKey: config.HERALD_ENCRYPTION_KEY,
      timeoutMs: 3000,
    });
    cleanups.add(() => herald.close());
    const probe = new QueueProbe(target, config.HERALD_PREFIX, ["email"]);
    cleanups.add(() => probe.close());

    const production = produce(herald, emailItems(JOBS), { batch: 50, everyMs: 50 });
    await untilProducedHalf(production, JOBS);
    await smtp.waitForMails(1);
    const acknowledgedAtFault = production.acknowledged.size;

    const killedAt = Date.now();
    await topology.master.kill9();
    await vi.waitFor(
      async () => {
        if ((await topology.currentMasterPort()) !== topology.replica.port) throw new Error("no failover yet");
      },
      { timeout: 30_000, interval: 100 },
    );
    const failoverMs = Date.now() - killedAt;
    // Restarted, the old master is turned into the new one's replica by the sentinels: WAIT 1 can succeed again.
    await topology.master.restart();

    const result = await waitForDrain({ rig: { texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), probe }, production, timeoutMs: 90_000 });
    // In flight at the failover: the jobs the worker held (its concurrency), plus those that started and
    // finished within the replication lag (the promoted replica never heard of them); allowed as many again.
    const inFlight = 2 * config.HERALD_EMAIL_CONCURRENCY;
    console.info(
      "sentinel master kill -9:",
      JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls, failoverMs, inFlight }),
    );
    expect(acknowledgedAtFault).toBeLessThan(JOBS);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(inFlight);
    expect(await probe.deadLettered()).toBe(0);

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
