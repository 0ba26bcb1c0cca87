import { describe, expect, it } from "vitest";
import { runSoak } from "../../bench/soak.js";

// The short form of `npm run soak` (10 minutes, run by hand or nightly): `herald api` as a child process
// under a steady mix of good and hostile requests, its RSS sampled once a second.
describe("API memory under hostile traffic", { timeout: 120_000 }, () => {
  it("stays bounded: RSS levels off after warm-up, no 500, still healthy afterwards", async () => {
    const result = await runSoak({ durationMs: 45_000, rps: 100, tolerancePct: 15 });
    const { samples, ...summary } = result;
    console.info("memory soak (45 s):", JSON.stringify({ ...summary, sampleCount: samples.length }));
    // Every hostile case was sent and answered with a 4xx, never a 500 (a 503 only says Redis was slow).
    expect(Object.keys(result.byCase)).toEqual(
      expect.arrayContaining(["malformed-json", "huge-body", "wrong-types", "unknown-kind", "bad-token", "deep-nesting", "invalid-utf8"]),
    );
    expect(result.noServerErrors).toBe(true);
    expect(result.byStatus["413"]).toBeGreaterThan(0);
    expect(result.byStatus["202"]).toBeGreaterThan(0);
    expect(result.healthyAfter).toBe(true);
    // Bounded: the last third's median RSS within 15 % of the middle third's, and well under the
    // 300 MB the unbounded-looking fuzz run reached (the 10-minute soak levels off near 200 MB).
    expect(result.growthPct).toBeLessThanOrEqual(15);
    expect(result.rssMb.max).toBeLessThan(300);
  });
});
