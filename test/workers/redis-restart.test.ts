import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { reconnectDelay } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers, type RunningWorkers } from "../../src/workers/start.js";
import { testEnv } from "../support/herald.js";
import { memoryLog } from "../support/log-sink.js";
import { startRedisServer, type RedisProcess } from "../support/redis-server.js";

const job = (code: string) => ({ recipient: { userId: "u", phone: "+41791234567" }, code });

// Herald's own redis-server, stopped and started again: the workers must be back at once, and the
// outage must show in the log as single JSON lines, never as stacks printed to the console.
describe("a Redis restart", () => {
  let redis: RedisProcess;
  let workers: RunningWorkers;
  let herald: Herald;
  const log = memoryLog();
  const consoleError = vi.spyOn(console, "error");

  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: false });
    const config = loadConfig(testEnv({ REDIS_URL: redis.url, LOG_LEVEL: "info" }));
    workers = await startWorkers({ config, logger: log.logger });
    herald = new Herald({ redis: config.REDIS_URL, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
  });
  afterAll(async () => {
    consoleError.mockRestore();
    await herald?.close();
    await workers?.close();
    await redis?.stop();
  });

  const delivered = () => new Promise<string>((resolve) => workers.events.once("delivered", (j: { id: string }) => resolve(j.id)));

  it("reconnects on a short, capped schedule", () => {
    expect([1, 2, 3, 4, 5, 6, 20].map(reconnectDelay)).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
  });

  it("workers deliver again within 2 s of Redis being back, and the outage is logged as one-line JSON only", async () => {
    const first = delivered();
    const { id } = await herald.phoneVerification(job("11111111"));
    expect(await first).toBe(id);

    const connection = workers.deadLetters.connection;
    const closed = new Promise((resolve) => connection.once("close", resolve));
    await redis.shutdown();
    await closed;
    // Long enough for the reconnect delays to reach their cap (50+100+200+400+800 ms).
    let attempts = 0;
    await new Promise<void>((resolve) => connection.on("reconnecting", () => ++attempts === 6 && resolve()));
    await redis.restart();
    const back = Date.now();

    const again = delivered();
    const second = await herald.phoneVerification(job("22222222"));
    expect(await again).toBe(second.id);
    const ms = Date.now() - back;
    expect(ms).toBeLessThan(2000);

    expect(consoleError).not.toHaveBeenCalled();
    const parsed = log.records() as { msg: string; errorCode?: string }[];
    const outage = parsed.filter((l) => /Redis error/.test(l.msg));
    expect(outage.length).toBeGreaterThan(0);
    expect(outage.some((l) => l.errorCode === "ECONNREFUSED")).toBe(true);
    // Once a minute at most per source: a few lines, not one per reconnect attempt.
    expect(outage.length).toBeLessThanOrEqual(6);
    console.info(`worker delivered ${ms} ms after Redis was back; ${outage.length} outage log line(s)`);
  });
});
