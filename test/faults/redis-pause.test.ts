import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { Cleanups, emailItems, JOBS, produce, QueueProbe, SCENARIO_TIMEOUT_MS, untilProducedHalf, waitForDrain } from "./rig.js";

const PAUSE_MS = 8_000;

describe("Redis stops answering for a while (SIGSTOP), then carries on (SIGCONT)", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("loses no acknowledged job, duplicates at most the jobs in flight, dead-letters none, recovers by itself", async () => {
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
    producerRedis.on("error", () => {});
    cleanups.add(() => producerRedis.disconnect());
    // A producer that gives up after 3 s and tries again with the same idempotency keys.
    const herald = new Herald({ redis: producerRedis, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY, timeoutMs: 3000 });
    cleanups.add(() => herald.close());
    const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["email"]);
    cleanups.add(() => probe.close());

    const production = produce(herald, emailItems(JOBS), { batch: 25, everyMs: 200 });
    await untilProducedHalf(production, JOBS);
    await smtp.waitForMails(1);
    // The fault must hit production under way: enqueues ride through it (the SDK waits up to its timeout) or time out and are retried.
    const acknowledgedAtFault = production.acknowledged.size;
    redis.pause();
    await delay(PAUSE_MS); // the stall itself
    redis.resume();

    const result = await waitForDrain({ texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), production, probe, timeoutMs: 70_000 });
    console.info("Redis paused:", JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls }));
    expect(acknowledgedAtFault).toBeLessThan(JOBS);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(config.HERALD_EMAIL_CONCURRENCY);
    expect(await probe.deadLettered()).toBe(0);
  });
});
