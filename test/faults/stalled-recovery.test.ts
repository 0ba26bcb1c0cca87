import { once } from "node:events";
import { resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { Job, Queue } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { createRedis } from "../../src/queues/connection.js";
import { Cleanups, emailItems, startFaultRig, startInProcessWorkers, startProducer, startWorkerProcess } from "./rig.js";

// These run with Herald's default HERALD_LOCK_MS and HERALD_STALLED_INTERVAL_MS: the defaults are the claim.
const IN_FLIGHT = 5;

/**
 * A worker process that holds IN_FLIGHT jobs as far as SMTP DATA (its sessions go through the gate, so a
 * kill ends them politely), and a second worker in this process, idle until a stalled job comes back: its
 * stalled checker is the one that finds it.
 */
async function setUp(cleanups: Cleanups, extraNodeOptions?: string) {
  const rig = await startFaultRig(cleanups, {
    provider: "smtp",
    gate: true,
    env: { HERALD_TEST_BUSY_MS: process.env.HERALD_TEST_BUSY_MS, ...(extraNodeOptions ? { NODE_OPTIONS: extraNodeOptions } : {}) },
  });
  rig.smtp.hold(); // the worker child gets every job as far as SMTP DATA, and no further
  const child = await startWorkerProcess(cleanups, rig, { concurrency: IN_FLIGHT });
  const herald = startProducer(cleanups, rig);
  const ids = (await herald.enqueueBulk(emailItems(IN_FLIGHT))).map((r) => r.id);
  await rig.smtp.waitForHeld(IN_FLIGHT);
  const second = await startInProcessWorkers(cleanups, rig);
  return { ...rig, child, second, ids };
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
