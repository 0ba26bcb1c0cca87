import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { Cleanups, JOBS, loadUntilHalfway, SCENARIO_TIMEOUT_MS, startFaultRig, startProducer, startWorkerProcess, waitForDrain } from "./rig.js";

const CONCURRENCY = 5;

describe("a worker process killed with SIGKILL under load, a second worker running", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("loses no acknowledged job: the survivor takes over the dead worker's jobs; duplicates at most its concurrency; nothing dead-lettered", async () => {
    // Killed workers reach the SMTP server through the gate. The lock and stalled-check settings are
    // Herald's defaults: this is what an operator gets.
    const rig = await startFaultRig(cleanups, { provider: "smtp", gate: true, env: { HERALD_ATTEMPTS: "8", HERALD_BACKOFF_MS: "300" } });
    const [doomed, survivor] = await Promise.all([
      startWorkerProcess(cleanups, rig, { concurrency: CONCURRENCY }),
      startWorkerProcess(cleanups, rig, { concurrency: CONCURRENCY }),
    ]);
    const herald = startProducer(cleanups, rig);

    const production = await loadUntilHalfway(rig, herald);
    const exited = once(doomed, "exit");
    doomed.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();

    const result = await waitForDrain({ rig, production, timeoutMs: 80_000 });
    console.info("worker SIGKILL:", JSON.stringify({ ...result, lost: result.lost.length, drainedSecondsAfterKill: (Date.now() - killedAt) / 1000 }));
    expect(survivor.exitCode).toBeNull();
    expect(result.acknowledged).toBe(JOBS);
    expect(result.lost).toEqual([]);
    expect(result.duplicates).toBeLessThanOrEqual(CONCURRENCY);
    expect(await rig.probe.deadLettered()).toBe(0);
  });
});
