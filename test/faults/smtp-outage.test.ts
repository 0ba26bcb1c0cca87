import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { Cleanups, JOBS, loadUntilHalfway, SCENARIO_TIMEOUT_MS, startFaultScenario, waitForDrain } from "./rig.js";

const OUTAGE_MS = 10_000;

describe("the SMTP relay goes down mid-flight and comes back", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("retries through the outage: every acknowledged job delivered, duplicates at most the SMTP connections, none dead-lettered", async () => {
    // Backoff 200 ms with the default 8 attempts spans at least 12.7 s of retries: longer than the outage.
    const rig = await startFaultScenario(cleanups, { provider: "smtp", gate: true, env: { HERALD_ATTEMPTS: "8", HERALD_BACKOFF_MS: "200" } });
    const { smtp, gate, config, workers, herald, probe } = rig;
    let retries = 0;
    workers.events.on("retrying", () => retries++);

    const production = await loadUntilHalfway(rig, herald);
    await gate.shut(); // connection refused, and the open sessions are cut mid-conversation
    await delay(OUTAGE_MS); // the outage itself
    const duringOutage = smtp.mails.length;
    await gate.open();

    const result = await waitForDrain({ rig, production, timeoutMs: 70_000 });
    console.info("SMTP outage:", JSON.stringify({ ...result, lost: result.lost.length, retries, deliveredBeforeReopen: duringOutage }));
    expect(retries).toBeGreaterThan(0);
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(config.SMTP_POOL_SIZE);
    expect(await probe.deadLettered()).toBe(0);
  });
});
