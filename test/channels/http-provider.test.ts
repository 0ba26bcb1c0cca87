import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { newSecret } from "../../src/webhooks/standard-webhooks.js";
import { startTestHerald, testEnv, type TestHerald } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

interface Received {
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  verified: boolean;
}

/** A receiver written apart from Herald: it checks each request with the standardwebhooks package. */
async function startReceiver(secret: string) {
  const received: Received[] = [];
  const script: { status: number; delayMs?: number }[] = [];
  const webhook = new Webhook(secret);
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      let verified = false;
      try {
        webhook.verify(raw, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ headers: req.headers, body: JSON.parse(raw), verified });
      const { status, delayMs } = script.shift() ?? { status: verified ? 200 : 401 };
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(status < 300 ? JSON.stringify({ id: `ext-${received.length}` }) : JSON.stringify({ error: "nope" }));
      }, delayMs ?? 0);
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`,
    received,
    answerNext: (status: number, delayMs?: number) => script.push({ status, delayMs }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the HTTP provider: signed JSON to a real server that verifies it with the standardwebhooks package", () => {
  const secret = newSecret();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let twilio: TwilioServer;
  let h: TestHerald;

  beforeAll(async () => {
    receiver = await startReceiver(secret);
    twilio = await startTwilioServer();
    h = await startTestHerald({
      HERALD_EMAIL_CHANNEL: "http",
      SMTP_FROM: "Acme ID <no-reply@acme.test>",
      HERALD_HTTP_PROVIDER_URL: receiver.url,
      HERALD_HTTP_PROVIDER_SECRET: secret,
      HERALD_HTTP_PROVIDER_TIMEOUT_MS: "300",
      HERALD_HTTP_PROVIDER_FALLBACK: "sms",
      ...twilioEnv(twilio),
    });
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await twilio?.close();
  });

  it("a mail: 2xx is delivered; the JSON carries kind, channel, locale, tenant, recipient and the rendered message; webhook-id is the job's", async () => {
    const { id } = await h.herald.passwordReset({
      recipient: { userId: "u-1", email: "ada@example.com", displayName: "Ada", locale: "de" },
      tenant: { id: "acme", name: "Acme" },
      code: "RESET-42",
      url: "https://login.example.com/reset?c=RESET-42",
    });
    const delivered = await h.nextDelivery();
    expect(delivered.result).toMatchObject({ provider: "http", messageId: "ext-1", channel: "email" });
    const [request] = receiver.received;
    expect(request!.verified).toBe(true);
    expect(request!.headers["webhook-id"]).toBe(`msg_${id}`);
    expect(request!.body).toMatchObject({ kind: "password-reset", channel: "email", locale: "de", tenant: "acme", to: "ada@example.com", toName: "Ada" });
    expect(request!.body.subject).toEqual(expect.any(String));
    expect(request!.body.html).toContain("RESET-42");
    expect(request!.body.text).toContain("RESET-42");
  });

  it("4xx is permanent (dead letter, no retry); 5xx and a timeout are transient (retried, then delivered)", async () => {
    const before = receiver.received.length;
    receiver.answerNext(422);
    await h.herald.emailVerification({ recipient: { userId: "u-2", email: "bob@example.com" }, code: "111111", url: "https://login.example.com/v" });
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("permanent");
    expect(await h.workers.deadLetters.get(`email-${dead.job.id}`)).toMatchObject({ code: "http-422", attempts: 1 });
    expect(receiver.received.length).toBe(before + 1);

    receiver.answerNext(503);
    receiver.answerNext(200, 1000); // answers after the 300 ms timeout
    await h.herald.emailVerification({ recipient: { userId: "u-3", email: "carol@example.com" }, code: "222222", url: "https://login.example.com/v" });
    const delivered = await h.nextDelivery();
    expect(delivered.job.attemptsMade).toBe(3); // 503, timeout, then 200
    expect(delivered.result.provider).toBe("http");
    const attempts = receiver.received.slice(before + 1);
    expect(attempts).toHaveLength(3);
    // Every retry of one job carries the same webhook-id, so the receiver can drop a repeat.
    expect(new Set(attempts.map((a) => a.headers["webhook-id"])).size).toBe(1);
    expect(attempts.every((a) => a.verified)).toBe(true);
  });

  it("an SMS: Twilio answers 503, the HTTP provider (the SMS fallback) delivers the body", async () => {
    twilio.failNext(1, { status: 503, code: 20503, message: "Service unavailable" });
    await h.herald.phoneVerification({ recipient: { userId: "u-4", phone: "+41791234567" }, code: "482915" });
    const delivered = await h.nextDelivery();
    expect(delivered.result).toMatchObject({ provider: "http", channel: "sms" });
    const request = receiver.received.at(-1)!;
    expect(request.verified).toBe(true);
    expect(request.body).toMatchObject({ kind: "phone-verification", channel: "sms", to: "+41791234567", tenant: null });
    expect(request.body.body).toContain("482915");
    expect(twilio.messages).toHaveLength(0);
  });

  it("fails closed: a URL without a secret, or a secret that is not whsec_, stops start-up naming the variable", () => {
    const base = testEnv({ HERALD_EMAIL_CHANNEL: "http", SMTP_FROM: "no-reply@acme.test", HERALD_HTTP_PROVIDER_URL: "https://hooks.example.com/send" });
    expect(() => loadConfig(base)).toThrow(ConfigError);
    expect(() => loadConfig(base)).toThrow(/HERALD_HTTP_PROVIDER_SECRET is required with HERALD_HTTP_PROVIDER_URL/);
    expect(() => loadConfig({ ...base, HERALD_HTTP_PROVIDER_SECRET: "hunter2hunter2hunter2" })).toThrow(
      /HERALD_HTTP_PROVIDER_SECRET entry 1: must start with whsec_/,
    );
    expect(() => loadConfig({ ...testEnv(), HERALD_HTTP_PROVIDER_FALLBACK: "email" })).toThrow(/HERALD_HTTP_PROVIDER_URL is required/);
    expect(loadConfig({ ...base, HERALD_HTTP_PROVIDER_SECRET: secret }).HERALD_HTTP_PROVIDER_SECRET).toEqual([secret]);
  });

  it("fails closed on what would leak or send mail without a sender: plain http beyond loopback, no SMTP_FROM", () => {
    const ok = testEnv({ HERALD_EMAIL_CHANNEL: "http", SMTP_FROM: "no-reply@acme.test", HERALD_HTTP_PROVIDER_SECRET: secret });
    expect(() => loadConfig({ ...ok, HERALD_HTTP_PROVIDER_URL: "http://hooks.example.com/send" })).toThrow(/HERALD_HTTP_PROVIDER_URL must be https/);
    expect(loadConfig({ ...ok, HERALD_HTTP_PROVIDER_URL: "http://127.0.0.1:9/send" }).HERALD_HTTP_PROVIDER_URL).toBe("http://127.0.0.1:9/send");
    expect(loadConfig({ ...ok, HERALD_DEV: "1", HERALD_HTTP_PROVIDER_URL: "http://hooks.example.com/send" }).HERALD_DEV).toBe(true);
    const noFrom = { ...ok, SMTP_FROM: undefined, HERALD_HTTP_PROVIDER_URL: "https://hooks.example.com/send" };
    expect(() => loadConfig(noFrom)).toThrow(/SMTP_FROM is required when mail goes out through the HTTP provider/);
    expect(() =>
      loadConfig({
        ...testEnv({ SMTP_URL: "smtp://127.0.0.1:2525", SMTP_FROM: "no-reply@acme.test" }),
        SMTP_FROM: undefined,
        SMTP_FALLBACK_URL: "smtp://127.0.0.1:2526",
      }),
    ).toThrow(/SMTP_FROM is required/);
  });
});
