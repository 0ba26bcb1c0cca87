import { describe, expect, it } from "vitest";
import { startTestHerald } from "../support/herald.js";

describe("worker options from the configuration", () => {
  it("per-channel rate limits, concurrency and stall detection reach the BullMQ workers", async () => {
    const h = await startTestHerald({ HERALD_EMAIL_RATE_PER_SECOND: "7", HERALD_EMAIL_CONCURRENCY: "3", HERALD_SMS_CONCURRENCY: "2", HERALD_LOCK_MS: "4000" });
    try {
      const email = h.workers.workers.find((w) => w.name === "email")!;
      const sms = h.workers.workers.find((w) => w.name === "sms")!;
      expect(email.opts.limiter).toEqual({ max: 7, duration: 1000 });
      expect(sms.opts.limiter).toBeUndefined();
      expect(email.opts.concurrency).toBe(3);
      expect(sms.opts.concurrency).toBe(2);
      expect(email.opts.lockDuration).toBe(4000);
      expect(email.opts.stalledInterval).toBe(h.config.HERALD_STALLED_INTERVAL_MS);
      expect(email.opts.maxStalledCount).toBe(1);
      expect(email.opts.prefix).toBe(h.config.HERALD_PREFIX);
    } finally {
      await h.close();
    }
  });
});
