import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, loadHttpConfig, type HeraldHttpServer } from "../../src/http/index.js";
import { createLogger } from "../../src/logger.js";
import { HeraldMetrics } from "../../src/metrics.js";
import { createRedis } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { Herald } from "../../src/queues/producer.js";
import { uniquePrefix } from "../support/herald.js";
import { asAdmin, asEnqueue, TOKENS } from "../support/harness.js";

// A real ioredis client pointed at a port nobody listens on: Redis "down" without mocking anything.
describe("HTTP API while Redis is unreachable", () => {
  let connection: Redis;
  let herald: Herald;
  let deadLetters: DeadLetters;
  let app: HeraldHttpServer;

  beforeAll(async () => {
    connection = createRedis("redis://127.0.0.1:1", "producer");
    connection.on("error", () => {});
    const prefix = uniquePrefix();
    herald = new Herald({ redis: connection, prefix, encryptionKey: randomBytes(32) });
    deadLetters = new DeadLetters(connection, prefix);
    const logger = createLogger({ level: "silent" });
    app = await createHttpServer({
      config: loadHttpConfig({ HERALD_API_TOKENS: TOKENS }),
      herald,
      deadLetters,
      connection,
      prefix,
      logger,
      redisTimeoutMs: 300,
      readyTimeoutMs: 300,
      metrics: new HeraldMetrics({ deadLetters, scrapeTimeoutMs: 300, processMetrics: false }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await herald?.close();
    await deadLetters?.close();
    connection?.disconnect();
  });

  it("enqueue answers 503 with Retry-After within the deadline instead of hanging", async () => {
    const started = Date.now();
    const res = await app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: { recipient: { userId: "u", email: "down@example.com" }, code: "C", url: "https://x.test" },
    });
    expect(res.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ queued: false, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(res.json().detail).toContain(`Idempotency-Key: ${res.json().id}`);
  });

  it("an invalid job is still a 400: validation needs no Redis", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: { recipient: { userId: "u" }, code: "C" },
    });
    expect(res.statusCode).toBe(400);
  });

  it("status and dead-letter routes answer 503; /healthz stays up; /readyz and /metrics report Redis down", async () => {
    expect((await app.inject({ method: "GET", url: "/v1/notifications/00000000-0000-4000-8000-000000000001", headers: asEnqueue })).statusCode).toBe(503);
    expect((await app.inject({ method: "GET", url: "/v1/dead-letters/email-00000000-0000-4000-8000-000000000001", headers: asAdmin })).statusCode).toBe(503);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.redis.ok).toBe(false);
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/^herald_redis_up 0$/m);
  });
});
