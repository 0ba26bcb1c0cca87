import { describe, expect, it } from "vitest";
import { shareOfRate } from "../../src/workers/start.js";

describe("a channel's rate split over its queues (shards and the unsharded queue)", () => {
  it("never allows more than the configured rate in total, and uses nearly all of it", () => {
    for (const rate of [1, 3, 10, 25, 100, 1000]) {
      for (const queues of [1, 2, 4, 17, 65]) {
        const share = shareOfRate(rate, queues)!;
        const total = (queues * share.max * 1000) / share.duration;
        expect(total, `rate ${rate} over ${queues} queues`).toBeLessThanOrEqual(rate);
        expect(total, `rate ${rate} over ${queues} queues`).toBeGreaterThan(rate * 0.95);
      }
    }
  });

  it("one queue keeps the plain limiter; no rate, no limiter", () => {
    expect(shareOfRate(50, 1)).toEqual({ max: 50, duration: 1000 });
    expect(shareOfRate(undefined, 4)).toBeUndefined();
  });
});
