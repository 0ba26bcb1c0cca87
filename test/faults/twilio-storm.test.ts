import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { Cleanups, JOBS, loadUntilHalfway, SCENARIO_TIMEOUT_MS, startFaultScenario, waitForDrain } from "./rig.js";

const STORM_MS = 10_000;

describe("Twilio answers 429 and 503 for a while, then 201 again", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("retries through the storm: every acknowledged SMS sent once, none dead-lettered", async () => {
    const rig = await startFaultScenario(cleanups, { provider: "twilio", env: { HERALD_ATTEMPTS: "8", HERALD_BACKOFF_MS: "300" } });
    const { twilio, herald, probe } = rig;

    const production = await loadUntilHalfway(rig, herald);
    // Every create-message request fails until the storm is over (far more than can arrive in that time).
    for (let i = 0; i < 100_000; i++) {
      twilio.failNext(1, i % 2 ? { status: 503, code: 20503, message: "Service Unavailable" } : { status: 429, code: 20429, message: "Too Many Requests" });
    }
    await delay(STORM_MS); // the storm itself
    twilio.clearFailures();

    const result = await waitForDrain({ rig, production, timeoutMs: 70_000 });
    const refused = twilio.requests.filter((r) => r.status === 429 || r.status === 503).length;
    console.info("Twilio 429/503 storm:", JSON.stringify({ ...result, lost: result.lost.length, refusedRequests: refused }));
    expect(refused).toBeGreaterThan(0);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    // A refused request sent nothing, so nothing is sent twice.
    expect(result.duplicates).toBe(0);
    expect(await probe.deadLettered()).toBe(0);
  });
});
