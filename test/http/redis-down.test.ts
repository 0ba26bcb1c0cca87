import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeraldHttpServer } from "../../src/http/index.js";
import { asAdmin, asEnqueue, startUnreachableRedisApi, type UnreachableRedisApi } from "../support/harness.js";

// Redis "down" without mocking (startUnreachableRedisApi).
describe("HTTP API while Redis is unreachable", () => {
  let api: UnreachableRedisApi;
  let app: HeraldHttpServer;

  beforeAll(async () => {
    api = await startUnreachableRedisApi();
    app = api.app;
  });
  afterAll(() => api?.close());

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
