import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { persistenceSettings } from "../support/redis-server.js";
import { Cleanups, JOBS, loadUntilHalfway, SCENARIO_TIMEOUT_MS, startRedisFaultScenario, waitForDrain } from "./rig.js";

describe("Redis killed with -9 mid-flight, then restarted from its append-only file", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("loses no acknowledged job, duplicates at most the jobs in flight, dead-letters none, and recovers without restarting Herald", async () => {
    // appendfsync always: with everysec a busy disk makes Redis answer before writing (up to 2 s held in
    // memory), and kill -9 then loses acknowledged jobs — seen here, 7 of 1,000, under load from other work.
    const rig = await startRedisFaultScenario(cleanups, { appendFsync: "always" });
    const { redis, config, herald, probe } = rig;
    expect(await persistenceSettings(redis.url)).toEqual({ appendonly: "yes", appendfsync: "always", maxmemoryPolicy: "noeviction" });

    // Producers are still writing when Redis dies: the fault hits enqueues and deliveries alike.
    const production = await loadUntilHalfway(rig, herald);
    // The fault must hit production under way: enqueues ride through it (the SDK waits up to its timeout) or fail and are retried.
    const acknowledgedAtFault = production.acknowledged.size;
    await redis.kill9();
    await delay(2000); // Redis stays down for a while; nothing signals the end of an outage we make ourselves
    await redis.restart();

    const result = await waitForDrain({ rig, production, timeoutMs: 80_000 });
    console.info("redis kill -9:", JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls }));
    expect(acknowledgedAtFault).toBeLessThan(JOBS);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(config.HERALD_EMAIL_CONCURRENCY);
    expect(await probe.deadLettered()).toBe(0);
  });
});
