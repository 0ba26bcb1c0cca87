import { readFileSync } from "node:fs";
import { memoryLog } from "../support/log-sink.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpConfigError, loadHttpConfig } from "../../src/http/index.js";
import { ADMIN_TOKEN, asAdmin, asEnqueue, ENQUEUE_TOKEN, inOneHour, startApiHarness, type ApiHarness } from "../support/harness.js";

const KIND_CASES = [
  {
    kind: "resend-initialization",
    channel: "email",
    body: {
      recipient: { userId: "u1", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
      code: "INIT4242",
      urlTemplate: "https://login.acme.test/init?code={{code}}&userId={{userId}}",
      passwordSet: true,
    },
    secrets: ["ada@example.com", "INIT4242", "login.acme.test"],
  },
  {
    kind: "email-verification",
    channel: "email",
    body: { recipient: { userId: "u2", email: "bob@example.com" }, code: "VER123", url: "https://login.acme.test/verify?c=VER123" },
    secrets: ["bob@example.com", "VER123", "login.acme.test"],
  },
  {
    kind: "phone-verification",
    channel: "sms",
    body: { recipient: { userId: "u3", phone: "+41791234567", locale: "de" }, code: "482913", expiresAt: inOneHour() },
    secrets: ["+41791234567", "482913"],
  },
  {
    kind: "password-reset",
    channel: "sms",
    body: { recipient: { userId: "u4", phone: "+41791234568" }, code: "RST777", channel: "sms" },
    secrets: ["+41791234568", "RST777"],
  },
  {
    kind: "passkey-link",
    channel: "email",
    body: {
      recipient: { userId: "u5", email: "dee@example.com" },
      code: "PK-secret",
      codeId: "cid-9",
      urlTemplate: "https://login.acme.test/passkey?id={{codeId}}&code={{code}}",
    },
    secrets: ["dee@example.com", "PK-secret", "cid-9", "login.acme.test"],
  },
  {
    kind: "otp-sms",
    channel: "sms",
    body: { recipient: { userId: "u6", phone: "+41791234569", locale: "it" }, code: "904512", expiresAt: inOneHour() },
    secrets: ["+41791234569", "904512"],
  },
  {
    kind: "otp-email",
    channel: "email",
    body: { recipient: { userId: "u7", email: "eve@example.com" }, code: "318274" },
    secrets: ["eve@example.com", "318274"],
  },
  {
    kind: "invite-user",
    channel: "email",
    body: {
      recipient: { userId: "u8", email: "finn@example.com" },
      inviter: { displayName: "Grace Hopper" },
      code: "INV-5521",
      urlTemplate: "https://login.acme.test/invite?code={{code}}",
    },
    secrets: ["finn@example.com", "INV-5521", "login.acme.test", "Grace Hopper"],
  },
  {
    kind: "password-changed",
    channel: "email",
    body: { recipient: { userId: "u9", email: "gus@example.com", timeZone: "Europe/Rome" }, occurredAt: "2026-03-02T09:00:00Z" },
    secrets: ["gus@example.com"],
  },
  {
    kind: "email-changed",
    channel: "email",
    body: { recipient: { userId: "u10", email: "old@example.com" }, newEmail: "new@example.org", url: "https://login.acme.test/secure" },
    secrets: ["old@example.com", "new@example.org", "login.acme.test"],
  },
  {
    kind: "mfa-changed",
    channel: "email",
    body: { recipient: { userId: "u11", email: "hal@example.com" }, factor: "u2f", change: "removed" },
    secrets: ["hal@example.com"],
  },
] as const;

describe("HTTP API: enqueue, validation, auth, limits (no workers: jobs stay queued)", () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApiHarness({ workers: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const c of KIND_CASES) {
    it(`POST /v1/notifications/${c.kind} → 202 queued on the ${c.channel} queue; status shows no secrets`, async () => {
      const res = await h.app.inject({ method: "POST", url: `/v1/notifications/${c.kind}`, headers: asEnqueue, payload: c.body });
      expect(res.statusCode).toBe(202);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      const body = res.json();
      expect(body).toEqual({ id: expect.any(String), kind: c.kind, channel: c.channel, status: "queued", deduplicated: false });
      expect(res.headers.location).toBe(`/v1/notifications/${body.id}`);

      const job = await h.redis.exists(`${h.config.HERALD_PREFIX}:${c.channel}:${body.id}`);
      expect(job).toBe(1);

      const status = await h.app.inject({ method: "GET", url: `/v1/notifications/${body.id}`, headers: asEnqueue });
      expect(status.statusCode).toBe(200);
      expect(status.json()).toMatchObject({ id: body.id, kind: c.kind, channel: c.channel, status: "queued", attempts: 0 });
      expect(Date.parse(status.json().enqueuedAt)).toBeGreaterThan(Date.now() - 60_000);
      for (const secret of c.secrets) {
        expect(res.body).not.toContain(secret);
        expect(status.body).not.toContain(secret);
      }
    });
  }

  it("400 problem+json listing every invalid field, matching the SDK's ValidationError; nothing queued", async () => {
    const payload = {
      recipient: { userId: "", email: "not-an-email", phone: "0791234567", extra: 1 },
      code: "",
      url: "ftp://x",
      urlTemplate: "https://x.test/{{nope}}",
    };
    const before = await h.redis.llen(`${h.config.HERALD_PREFIX}:email:wait`);
    const res = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status: 400, detail: expect.any(String) });
    const fields = problem.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(["recipient.userId", "recipient.email", "recipient.phone", "recipient.extra", "code", "url", "urlTemplate"]));
    for (const e of problem.errors) expect(e).toEqual({ field: expect.any(String), message: expect.any(String) });

    // Same issues as the SDK gives for the same input.
    const sdkError = await h.herald.enqueue("email-verification", payload as never).catch((e) => e);
    expect(problem.errors).toEqual(sdkError.issues);
    expect(await h.redis.llen(`${h.config.HERALD_PREFIX}:email:wait`)).toBe(before);
  });

  it("400 for a security notice given a code, or an mfa-changed without its factor, naming each field", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/mfa-changed",
      headers: asEnqueue,
      payload: { recipient: { userId: "u", email: "a@example.com" }, code: "123456", change: "added", occurredAt: "noon" },
    });
    expect(res.statusCode).toBe(400);
    const fields = Object.fromEntries(res.json().errors.map((e: { field: string; message: string }) => [e.field, e.message]));
    expect(fields).toMatchObject({ code: "is not allowed", factor: "is required", occurredAt: expect.stringMatching(/ISO 8601/) });
  });

  it("400 for a code that has already expired, a missing body and malformed JSON", async () => {
    const expired = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/phone-verification",
      headers: asEnqueue,
      payload: { recipient: { userId: "u", phone: "+41791234567" }, code: "1", expiresAt: "2020-01-01T00:00:00Z" },
    });
    expect(expired.statusCode).toBe(400);
    expect(expired.json().errors).toEqual([{ field: "expiresAt", message: expect.stringMatching(/past/) }]);

    const empty = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue });
    expect(empty.statusCode).toBe(400);
    expect(empty.headers["content-type"]).toMatch(/^application\/problem\+json/);

    const malformed = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: { ...asEnqueue, "content-type": "application/json" },
      payload: "{",
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("415 problem for a body that is not JSON (text/plain included), on enqueue and on dead-letter replay", async () => {
    const job = JSON.stringify({ recipient: { userId: "u", email: "plain@example.com" }, code: "P1", url: "https://x.test/v" });
    for (const [url, headers] of [
      ["/v1/notifications/email-verification", asEnqueue],
      ["/v1/dead-letters/replay", asAdmin],
    ] as const) {
      for (const type of ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"]) {
        const res = await h.app.inject({ method: "POST", url, headers: { ...headers, "content-type": type }, payload: job });
        expect(res.statusCode, `${url} ${type}`).toBe(415);
        expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it("Bull Board keeps an idempotency key's digits (masking its addresses) and points to herald dlq", async () => {
    const board = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` };
    const key = "reset-u7-20261128100000:ada@example.com:+41791234567";
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: { recipient: { userId: "u7", email: "ada@example.com" }, code: "BK1", url: "https://x.test/v", idempotencyKey: key },
    });
    const job = await h.app.inject({ method: "GET", url: `/admin/queues/api/queues/email/${res.json().id}`, headers: board });
    expect(job.statusCode).toBe(200);
    const shown = job.json().job;
    expect(shown.data.job.idempotencyKey).toBe("reset-u7-20261128100000:[email]:[phone]");
    expect(shown.opts.deduplication.id).toBe("email-verification:reset-u7-20261128100000:[email]:[phone]");
    expect(job.body).not.toMatch(/ada@example\.com|41791234567/);
    const queues = (await h.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: board })).json().queues;
    expect(queues.find((q: { name: string }) => q.name === "dead-letter").description).toMatch(/`herald dlq`/);
  });

  it("404 problem for an unknown kind, naming the kinds there are", async () => {
    const res = await h.app.inject({ method: "POST", url: "/v1/notifications/carrier-pigeon", headers: asEnqueue, payload: {} });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.json().detail).toContain("email-verification");
  });

  it("413 problem for a body over 64 KiB", async () => {
    const payload = JSON.stringify({
      recipient: { userId: "u", email: "a@example.com", displayName: "x".repeat(70 * 1024) },
      code: "1",
      url: "https://x.test",
    });
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: { ...asEnqueue, "content-type": "application/json" },
      payload,
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 413, title: expect.any(String) });
  });

  it("a repeated idempotency key answers 202 with the first job's id and deduplicated: true", async () => {
    const body = { recipient: { userId: "u9", email: "idem@example.com" }, code: "C1", url: "https://x.test/v", idempotencyKey: "verify-u9-1" };
    const first = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload: body });
    const second = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload: { ...body, code: "C2" } });
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    expect(first.json().deduplicated).toBe(false);
    expect(second.json()).toMatchObject({ id: first.json().id, deduplicated: true, status: "queued" });
  });

  it("401 with WWW-Authenticate without a token, with a wrong token and with a non-Bearer scheme", async () => {
    for (const headers of [
      {},
      { authorization: "Bearer wrong-token-wrong-token" },
      { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` },
      { authorization: `Bearer ${ENQUEUE_TOKEN}x` },
    ]) {
      for (const [method, url] of [
        ["POST", "/v1/notifications/email-verification"],
        ["GET", "/v1/notifications/some-id"],
        ["GET", "/v1/dead-letters"],
      ] as const) {
        const res = await h.app.inject({ method, url, headers, payload: method === "POST" ? {} : undefined });
        expect(res.statusCode, `${method} ${url} with ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="Herald"/);
        expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it("403 for an enqueue token on every admin route; admin may do what enqueue may", async () => {
    const adminRoutes = [
      ["GET", "/v1/dead-letters"],
      ["GET", "/v1/dead-letters/email-x"],
      ["POST", "/v1/dead-letters/email-x/replay"],
      ["POST", "/v1/dead-letters/replay"],
      ["DELETE", "/v1/dead-letters/email-x"],
      ["DELETE", "/v1/dead-letters?kind=email-verification"],
    ] as const;
    for (const [method, url] of adminRoutes) {
      const res = await h.app.inject({ method, url, headers: asEnqueue });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.headers["www-authenticate"]).toContain('error="insufficient_scope"');
    }
    const asAdminEnqueue = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asAdmin, payload: KIND_CASES[1].body });
    expect(asAdminEnqueue.statusCode).toBe(202);
    const status = await h.app.inject({ method: "GET", url: `/v1/notifications/${asAdminEnqueue.json().id}`, headers: asAdmin });
    expect(status.statusCode).toBe(200);
  });

  it("404 for an unknown notification id, and for ids that are BullMQ's own key names", async () => {
    const res = await h.app.inject({ method: "GET", url: "/v1/notifications/00000000-0000-0000-0000-000000000000", headers: asEnqueue });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    for (const id of ["wait", "meta", "events", "id", "marker", "x".repeat(90), "00000000-0000-0000-0000-00000000000g"]) {
      expect((await h.app.inject({ method: "GET", url: `/v1/notifications/${id}`, headers: asEnqueue })).statusCode, id).toBe(404);
    }
  });

  it("serves an OpenAPI 3.1 document generated from the contracts, and the docs UI", async () => {
    const res = await h.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.version).toBe(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version);
    for (const c of KIND_CASES) {
      const op = doc.paths[`/v1/notifications/${c.kind}`].post;
      const schema = op.requestBody.content["application/json"].schema;
      expect(schema.required).toContain("recipient");
      expect(schema.properties.recipient.properties.userId).toMatchObject({ type: "string", maxLength: 200 });
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["202", "400", "401", "413"]));
    }
    expect(doc.paths["/v1/notifications/passkey-link"].post.requestBody.content["application/json"].schema.required).toContain("codeId");
    expect(doc.paths["/v1/notifications/password-reset"].post.requestBody.content["application/json"].schema.properties.channel.enum).toEqual(["email", "sms"]);
    // Security notices document their time and no code; the invitation its inviter.
    for (const kind of ["password-changed", "email-changed", "mfa-changed"]) {
      const schema = doc.paths[`/v1/notifications/${kind}`].post.requestBody.content["application/json"].schema;
      expect(schema.properties, kind).not.toHaveProperty("code");
      expect(schema.properties, kind).not.toHaveProperty("expiresAt");
      expect(schema.properties.occurredAt, kind).toMatchObject({ type: "string", format: "date-time" });
      expect(schema.required, kind).not.toContain("occurredAt");
    }
    expect(doc.paths["/v1/notifications/mfa-changed"].post.requestBody.content["application/json"].schema.properties.factor.enum).toEqual([
      "otp-app",
      "otp-sms",
      "otp-email",
      "passkey",
      "u2f",
    ]);
    expect(doc.paths["/v1/notifications/invite-user"].post.requestBody.content["application/json"].schema.required).toContain("inviter");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/notifications/{id}",
        "/v1/dead-letters",
        "/v1/dead-letters/{id}",
        "/v1/dead-letters/{id}/replay",
        "/v1/dead-letters/replay",
      ]),
    );
    expect(Object.keys(doc.paths).some((p) => p.startsWith("/admin"))).toBe(false);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });

    const ui = await h.app.inject({ method: "GET", url: "/docs/" });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
  });

  it("/healthz is up and /readyz checks Redis by default; neither needs a token", async () => {
    expect((await h.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    const ready = await h.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", checks: { redis: { ok: true } } });
  });
});

describe("HTTP API: start-up and injected readiness", () => {
  it("refuses to start without tokens unless HERALD_DEV=1, and then is open and says so loudly", async () => {
    await expect(startApiHarness({ workers: false, httpEnv: { HERALD_API_TOKENS: "" } })).rejects.toThrow(HttpConfigError);

    const log = memoryLog({ level: "warn" });
    const h = await startApiHarness({ workers: false, httpEnv: { HERALD_API_TOKENS: "", HERALD_DEV: "1" }, server: { logger: log.logger } });
    try {
      expect(log.text()).toMatch(/OPEN to anyone/);
      const res = await h.app.inject({ method: "GET", url: "/v1/dead-letters" });
      expect(res.statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("/readyz answers 503 naming the failing check", async () => {
    const h = await startApiHarness({
      workers: false,
      server: {
        ready: {
          redis: () => true,
          workers: () => "not running: email",
          templates: async () => {
            throw new Error("template broken");
          },
        },
      },
    });
    try {
      const res = await h.app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        status: "not ready",
        checks: { redis: { ok: true }, workers: { ok: false, detail: "not running: email" }, templates: { ok: false, detail: "template broken" } },
      });
    } finally {
      await h.close();
    }
  });

  it("rejects malformed HERALD_API_TOKENS without echoing the token", () => {
    expect(() => loadHttpConfig({ HERALD_API_TOKENS: "root:0123456789abcdef0123" })).toThrow(/entry 1 must be scope:token/);
    expect(() => loadHttpConfig({ HERALD_API_TOKENS: "admin:short" })).toThrow(/at least 16/);
    const refused = (() => {
      try {
        loadHttpConfig({ HERALD_API_TOKENS: "enqueue:0123456789abcdef0123,boss:supersecretvalue123" });
      } catch (error) {
        return String(error);
      }
      return "accepted";
    })();
    expect(refused).toMatch(/entry 2 must be scope:token/);
    expect(refused).not.toContain("supersecretvalue123");
    const config = loadHttpConfig({
      HERALD_API_TOKENS: " enqueue:0123456789abcdef0123 , enqueue:abcdefabcdefabcdef01,admin:ffffffffffffffffffff",
      HERALD_BOARD_READONLY: "1",
    });
    expect(config.HERALD_API_TOKENS.map((t) => t.scope)).toEqual(["enqueue", "enqueue", "admin"]);
    expect(config).toMatchObject({ HERALD_HTTP_PORT: 8080, HERALD_BOARD_READONLY: true, HERALD_DEV: false });
    expect(loadHttpConfig({ HERALD_HTTP_PORT: "9090" }).HERALD_HTTP_PORT).toBe(9090);
    expect(() => loadHttpConfig({ HERALD_HTTP_PORT: "http" })).toThrow(/HERALD_HTTP_PORT/);
  });

  it("accepts every token of a scope (rotation)", async () => {
    const second = "enqueue-second-token-0001";
    const h = await startApiHarness({ workers: false, httpEnv: { HERALD_API_TOKENS: `enqueue:${ENQUEUE_TOKEN},enqueue:${second},admin:${ADMIN_TOKEN}` } });
    try {
      for (const token of [ENQUEUE_TOKEN, second]) {
        const res = await h.app.inject({ method: "GET", url: "/v1/notifications/nope", headers: { authorization: `Bearer ${token}` } });
        expect(res.statusCode).toBe(404);
      }
    } finally {
      await h.close();
    }
  });

  it("HERALD_BOARD_READONLY=1 makes Bull Board read-only: queues flagged, changes refused", async () => {
    const board = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` };
    const ro = await startApiHarness({ workers: false, httpEnv: { HERALD_BOARD_READONLY: "1" } });
    const rw = await startApiHarness({ workers: false });
    try {
      const queues = (await ro.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: board })).json().queues;
      expect(queues.map((q: { name: string }) => q.name).sort()).toEqual(["dead-letter", "email", "sms"]);
      expect(queues.every((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(true);
      const pause = await ro.app.inject({ method: "PUT", url: "/admin/queues/api/queues/email/pause", headers: board });
      expect(pause.statusCode).toBe(405);
      const after = (await ro.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: board })).json().queues;
      expect(after.find((q: { name: string }) => q.name === "email").isPaused).toBe(false);

      const writable = (await rw.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: board })).json().queues;
      expect(writable.some((q: { readOnlyMode: boolean }) => q.readOnlyMode)).toBe(false);
    } finally {
      await ro.close();
      await rw.close();
    }
  });

  it("createHttpServer returns a server that is not listening", async () => {
    const h = await startApiHarness({ workers: false });
    try {
      expect(h.app.server.listening).toBe(false);
    } finally {
      await h.close();
    }
  });
});
