import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { testEnv } from "../support/herald.js";
import { startRedisServer } from "../support/redis-server.js";
import { startTwilioServer } from "../support/twilio-server.js";
import { Cleanups, JOBS, produce, QueueProbe, SCENARIO_TIMEOUT_MS, smsItems, untilProducedHalf, waitForDrain } from "./rig.js";

const STORM_MS = 10_000;

describe("Twilio answers 429 and 503 for a while, then 201 again", { timeout: SCENARIO_TIMEOUT_MS }, () => {
  const cleanups = new Cleanups();
  afterAll(() => cleanups.run(), 120_000);

  it("retries through the storm: every acknowledged SMS sent once, none dead-lettered", async () => {
    const redis = await startRedisServer();
    cleanups.add(() => redis.stop());
    const twilio = await startTwilioServer();
    cleanups.add(() => twilio.close());
    const config = loadConfig(
      testEnv({
        REDIS_URL: redis.url,
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: "+15005550006",
        TWILIO_API_BASE_URL: twilio.url,
        HERALD_ATTEMPTS: "8",
        HERALD_BACKOFF_MS: "300",
      }),
    );
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["sms"] });
    cleanups.add(() => workers.close());
    const herald = new Herald({ redis: redis.url, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    cleanups.add(() => herald.close());
    const probe = new QueueProbe(redis.url, config.HERALD_PREFIX, ["sms"]);
    cleanups.add(() => probe.close());

    const production = produce(herald, smsItems(JOBS), { batch: 25, everyMs: 200 });
    await untilProducedHalf(production, JOBS);
    await twilio.waitForMessages(1, 30_000);
    // Every create-message request fails until the storm is over (far more than can arrive in that time).
    for (let i = 0; i < 100_000; i++) {
      twilio.failNext(1, i % 2 ? { status: 503, code: 20503, message: "Service Unavailable" } : { status: 429, code: 20429, message: "Too Many Requests" });
    }
    await delay(STORM_MS); // the storm itself
    twilio.clearFailures();

    const result = await waitForDrain({ texts: () => twilio.messages.map((m) => m.Body ?? ""), production, probe, timeoutMs: 70_000 });
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
