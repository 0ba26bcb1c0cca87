import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { Cleanups, JOBS, loadUntilHalfway, SCENARIO_TIMEOUT_MS, startRedisFaultScenario, waitForDrain } from "./rig.js";

const PAUSE_MS = 8_000;

describe("Redis stops answering for a while (SIGSTOP), then carries on (SIGCONT)", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("loses no acknowledged job, duplicates at most the jobs in flight, dead-letters none, recovers by itself", async () => {
    const rig = await startRedisFaultScenario(cleanups);
    const { redis, config, herald, probe } = rig;

    const production = await loadUntilHalfway(rig, herald);
    // The fault must hit production under way: enqueues ride through it (the SDK waits up to its timeout) or time out and are retried.
    const acknowledgedAtFault = production.acknowledged.size;
    redis.pause();
    await delay(PAUSE_MS); // the stall itself
    redis.resume();

    const result = await waitForDrain({ rig, production, timeoutMs: 70_000 });
    console.info("Redis paused:", JSON.stringify({ ...result, lost: result.lost.length, failedEnqueueCalls: production.failedCalls }));
    expect(acknowledgedAtFault).toBeLessThan(JOBS);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(config.HERALD_EMAIL_CONCURRENCY);
    expect(await probe.deadLettered()).toBe(0);
  });
});
