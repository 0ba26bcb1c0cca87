import { once } from "node:events";
import { resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { Job, Queue } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { spawnCli, waitForLog } from "../support/cli.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { startTcpGate } from "./tcp-gate.js";
import { Cleanups, emailItems, QueueProbe } from "./rig.js";

// These run with Herald's default HERALD_LOCK_MS and HERALD_STALLED_INTERVAL_MS: the defaults are the claim.
const IN_FLIGHT = 5;

async function setUp(cleanups: Cleanups, extraNodeOptions?: string) {
  const redis = await startRedisServer();
  cleanups.add(() => redis.stop());
  const smtp = await startSmtpServer();
  cleanups.add(() => smtp.close());
  // The killed worker reaches the SMTP server through a gate that ends its sessions politely (see tcp-gate.ts).
  const gate = await startTcpGate(smtp.port);
  cleanups.add(() => gate.stop());
  const env = testEnv({
    REDIS_URL: redis.url,
    SMTP_URL: `smtp://127.0.0.1:${gate.port}`,
    SMTP_FROM: "Acme <no-reply@acme.test>",
    LOG_LEVEL: "info",
    HERALD_TEST_BUSY_MS: process.env.HERALD_TEST_BUSY_MS,
    ...(extraNodeOptions ? { NODE_OPTIONS: extraNodeOptions } : {}),
  });
  const config = loadConfig(env);
  smtp.hold(); // the worker child gets every job as far as SMTP DATA, and no further
  const child = spawnCli(["worker", "--queues", "email", "--concurrency", String(IN_FLIGHT)], env);
  cleanups.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  });
  child.stdout!.resume();
  await waitForLog(child, "workers started", 60_000);
  child.stderr!.resume();
  const producer = createRedis(redis.url, "producer");
  cleanups.add(() => producer.disconnect());
  const herald = new Herald({ redis: producer, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
  cleanups.add(() => herald.close());
  const ids = (await herald.enqueueBulk(emailItems(IN_FLIGHT))).map((r) => r.id);
  await smtp.waitForHeld(IN_FLIGHT);
  // A second worker, idle until a stalled job comes back: its stalled checker is the one that finds it.
  const second = await startWorkers({ config: { ...config, LOG_LEVEL: "silent" }, logger: createLogger({ level: "silent" }), channels: ["email"] });
  cleanups.add(() => second.close());
  const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["email"]);
  cleanups.add(() => probe.close());
  return { redis, smtp, config, child, second, ids, probe };
}

describe("stalled jobs with the default lock settings", { timeout: 150_000 }, () => {
  const cleanups = new Cleanups();
  afterEach(() => cleanups.run(), 120_000);

  it("a job held by a SIGKILLed worker is delivered by the other worker within 15 s", async () => {
    const { smtp, config, child, second, probe } = await setUp(cleanups);
    expect(config.HERALD_LOCK_MS + config.HERALD_STALLED_INTERVAL_MS).toBeLessThanOrEqual(15_000);
    let detectedAt = 0;
    second.workers[0]!.on("stalled", () => (detectedAt ||= Date.now()));
    // Killed at a random point of the lock-renewal and stalled-check cycles, so repeated runs sample them all.
    await delay(Math.random() * config.HERALD_LOCK_MS);
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    smtp.dropHeld(); // those sessions died with their worker: nothing was accepted
    await smtp.waitForMails(IN_FLIGHT, 30_000);
    const recovered = (Date.now() - killedAt) / 1000;
    console.info(
      "stalled recovery:",
      JSON.stringify({
        lockMs: config.HERALD_LOCK_MS,
        stalledIntervalMs: config.HERALD_STALLED_INTERVAL_MS,
        detectedAfterS: (detectedAt - killedAt) / 1000,
        deliveredAfterS: recovered,
      }),
    );
    // Worst case is one lock (10 s) plus one check interval (5 s); the rest is sending, on a busy machine.
    expect(detectedAt - killedAt).toBeLessThanOrEqual(config.HERALD_LOCK_MS + config.HERALD_STALLED_INTERVAL_MS + 1000);
    expect(recovered).toBeLessThanOrEqual(20);
    expect(new Set(smtp.mails.map((m) => m.envelope.to[0])).size).toBe(IN_FLIGHT);
    expect(await probe.deadLettered()).toBe(0);
  });

  it("a worker whose event loop is busy 2 s at a time keeps its jobs: no false stall, each sent once", async () => {
    const busy = pathToFileURL(resolve(import.meta.dirname, "busy-loop.mjs")).href;
    const { redis, smtp, config, child, second, ids, probe } = await setUp(cleanups, `--import ${busy}`);
    child.kill("SIGUSR2"); // from now on its event loop is busy 2 s of every 2.25 s
    let stalls = 0;
    second.workers[0]!.on("stalled", () => stalls++);
    // Held for more than two lock lengths: the busy worker must renew every lock more than twice, late each time.
    await delay(2 * config.HERALD_LOCK_MS + 2000);
    smtp.release();
    await smtp.waitForMails(IN_FLIGHT, 30_000);
    await expect.poll(() => probe.pending(), { timeout: 30_000 }).toBe(0);
    const connection = createRedis(redis.url, "worker");
    cleanups.add(() => connection.disconnect());
    const queue = new Queue("email", { connection, prefix: config.HERALD_PREFIX });
    cleanups.add(() => queue.close());
    const jobs = await Promise.all(ids.map((id) => Job.fromId(queue, id)));
    expect(stalls).toBe(0);
    expect(jobs.map((j) => j?.stalledCounter)).toEqual(ids.map(() => 0));
    expect(smtp.mails).toHaveLength(IN_FLIGHT);
    expect(await probe.deadLettered()).toBe(0);
  });
});
