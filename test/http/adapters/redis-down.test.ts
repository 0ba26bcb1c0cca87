import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeraldHttpServer } from "../../../src/http/index.js";
import { goJson } from "../../fixtures/adapters/go-json.js";
import { sendEmailPayload } from "../../fixtures/adapters/supabase.js";
import { zitadelPayload, zitadelUrls } from "../../fixtures/adapters/zitadel.js";
import { startUnreachableRedisApi, type UnreachableRedisApi } from "../../support/harness.js";

const SUPABASE_SECRET = `v1,whsec_${randomBytes(32).toString("base64")}`;
const ZITADEL_KEY = randomBytes(24).toString("hex");

// Redis "down" without mocking: a real client on a port nobody listens on. Producer errors reach the
// adapters through the server's error mapping (503 + Retry-After here), in each server's format.
describe("adapters while Redis is unreachable", () => {
  let api: UnreachableRedisApi;
  let app: HeraldHttpServer;

  beforeAll(async () => {
    api = await startUnreachableRedisApi({ HERALD_SUPABASE_HOOK_SECRET: SUPABASE_SECRET, HERALD_ZITADEL_SIGNING_KEY: ZITADEL_KEY });
    app = api.app;
  });
  afterAll(() => api?.close());

  it("Supabase gets 503 with Retry-After (so it retries) as {error: {http_code, message}}", async () => {
    const body = goJson(
      sendEmailPayload(
        { id: randomUUID(), email: "down@example.com", phone: "41791234567" },
        { email_action_type: "signup", token: "123456", token_hash: "pkce_abc" },
      ),
    );
    const id = randomUUID();
    const at = new Date();
    const res = await app.inject({
      method: "POST",
      url: "/v1/adapters/supabase/email",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": new Webhook(SUPABASE_SECRET.slice(3)).sign(id, at, body),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: { http_code: 503, message: expect.stringMatching(/Redis/) } });
  });

  it("ZITADEL gets 503 with Retry-After as problem details", async () => {
    const user = { userID: "1", email: "down@example.com", phone: "+41791234567", firstName: "A", lastName: "B" };
    const body = goJson(
      zitadelPayload(user, { eventType: "user.human.email.code.added", channel: "email", code: "C1", url: zitadelUrls.verifyEmail(user, "C1") }),
    );
    const t = Math.floor(Date.now() / 1000);
    const res = await app.inject({
      method: "POST",
      url: "/v1/adapters/zitadel/email",
      headers: {
        "content-type": "application/json",
        "zitadel-signature": `t=${t},v1=${createHmac("sha256", ZITADEL_KEY).update(`${t}.${body}`).digest("hex")}`,
      },
      payload: body,
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });
});
