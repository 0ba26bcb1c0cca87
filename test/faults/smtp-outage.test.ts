import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { Cleanups, emailItems, JOBS, produce, QueueProbe, SCENARIO_TIMEOUT_MS, untilProducedHalf, waitForDrain } from "./rig.js";
import { startTcpGate } from "./tcp-gate.js";

const OUTAGE_MS = 10_000;

describe("the SMTP relay goes down mid-flight and comes back", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("retries through the outage: every acknowledged job delivered, duplicates at most the SMTP connections, none dead-lettered", async () => {
    const redis = await startRedisServer();
    cleanups.add(() => redis.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    const gate = await startTcpGate(smtp.port);
    cleanups.add(() => gate.stop());
    // Backoff 200 ms with the default 8 attempts spans at least 12.7 s of retries: longer than the outage.
    const config = loadConfig(
      testEnv({
        REDIS_URL: redis.url,
        SMTP_URL: `smtp://127.0.0.1:${gate.port}`,
        SMTP_FROM: "Acme <no-reply@acme.test>",
        HERALD_ATTEMPTS: "8",
        HERALD_BACKOFF_MS: "200",
      }),
    );
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    cleanups.add(() => workers.close());
    let retries = 0;
    workers.events.on("retrying", () => retries++);
    const herald = new Herald({ redis: redis.url, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    cleanups.add(() => herald.close());
    const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["email"]);
    cleanups.add(() => probe.close());

    const production = produce(herald, emailItems(JOBS), { batch: 25, everyMs: 200 });
    await untilProducedHalf(production, JOBS);
    await smtp.waitForMails(1);
    await gate.shut(); // connection refused, and the open sessions are cut mid-conversation
    await delay(OUTAGE_MS); // the outage itself
    const duringOutage = smtp.mails.length;
    await gate.open();

    const result = await waitForDrain({ texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), production, probe, timeoutMs: 70_000 });
    console.info("SMTP outage:", JSON.stringify({ ...result, lost: result.lost.length, retries, deliveredBeforeReopen: duringOutage }));
    expect(retries).toBeGreaterThan(0);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(config.SMTP_POOL_SIZE);
    expect(await probe.deadLettered()).toBe(0);
  });
});
