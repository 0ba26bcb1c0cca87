import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createRedis } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { spawnCli, waitForLog } from "../support/cli.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { startTcpGate } from "./tcp-gate.js";
import { Cleanups, emailItems, JOBS, produce, QueueProbe, SCENARIO_TIMEOUT_MS, untilProducedHalf, waitForDrain } from "./rig.js";

const CONCURRENCY = 5;

describe("a worker process killed with SIGKILL under load, a second worker running", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("loses no acknowledged job: the survivor takes over the dead worker's jobs; duplicates at most its concurrency; nothing dead-lettered", async () => {
    const redis = await startRedisServer();
    cleanups.add(() => redis.stop());
    const smtp = await startSmtpServer();
    cleanups.add(() => smtp.close());
    // Killed workers reach the SMTP server through a gate that ends their sessions politely (see tcp-gate.ts).
    const gate = await startTcpGate(smtp.port);
    cleanups.add(() => gate.stop());
    // The lock and stalled-check settings are Herald's defaults: this is what an operator gets.
    const env = testEnv({
      REDIS_URL: redis.url,
      SMTP_URL: `smtp://127.0.0.1:${gate.port}`,
      SMTP_FROM: "Acme <no-reply@acme.test>",
      HERALD_ATTEMPTS: "8",
      HERALD_BACKOFF_MS: "300",
      LOG_LEVEL: "info",
    });
    const config = loadConfig(env);
    const spawnWorker = () => spawnCli(["worker", "--queues", "email", "--concurrency", String(CONCURRENCY)], env);
    const doomed = spawnWorker();
    const survivor = spawnWorker();
    for (const child of [doomed, survivor]) {
      child.stdout!.resume();
      cleanups.add(async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      });
    }
    await Promise.all([waitForLog(doomed, "workers started", 60_000), waitForLog(survivor, "workers started", 60_000)]);
    for (const child of [doomed, survivor]) child.stderr!.resume(); // pino writes a line per delivery; keep the pipe flowing

    const producerRedis = createRedis(redis.url, "producer");
    cleanups.add(() => producerRedis.disconnect());
    const herald = new Herald({ redis: producerRedis, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    cleanups.add(() => herald.close());
    const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["email"]);
    cleanups.add(() => probe.close());

    const production = produce(herald, emailItems(JOBS), { batch: 25, everyMs: 200 });
    await untilProducedHalf(production, JOBS);
    await smtp.waitForMails(1);
    const exited = once(doomed, "exit");
    doomed.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();

    const result = await waitForDrain({ texts: () => smtp.mails.map((m) => m.parsed.text ?? ""), production, probe, timeoutMs: 80_000 });
    console.info("worker SIGKILL:", JSON.stringify({ ...result, lost: result.lost.length, drainedSecondsAfterKill: (Date.now() - killedAt) / 1000 }));
    expect(survivor.exitCode).toBeNull();
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(CONCURRENCY);
    expect(await probe.deadLettered()).toBe(0);
  });
});
