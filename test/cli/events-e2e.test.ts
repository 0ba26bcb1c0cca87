import { once } from "node:events";
import twilio from "twilio";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService, type Service } from "../../src/cli/service.js";
import { loadConfig } from "../../src/config/index.js";
import type { AppliedReport } from "../../src/http/plugins/twilio-callbacks.js";
import { createLogger } from "../../src/logger.js";
import { Suppressions } from "../../src/queues/suppressions.js";
import { decodeKey } from "../../src/secrets/key.js";
import { newSecret } from "../../src/webhooks/standard-webhooks.js";
import { deleteKeys, testEnv } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";
import { startReceiver } from "../support/webhook-receiver.js";

const PUBLIC_URL = "https://herald.example.com";
const TOKEN = "enqueue-token-0123456789abcdef";

describe("herald start: an SMS, Twilio's signed status callback, the producer's webhook and the suppression list, end to end", () => {
  const secret = newSecret();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let tw: TwilioServer;
  let service: Service;
  let redis: Redis;
  let prefix: string;
  let encryptionKey: string;
  const undeliverable: AppliedReport[] = [];

  beforeAll(async () => {
    receiver = await startReceiver({ "/hooks": secret }, () => 204);
    tw = await startTwilioServer();
    const env = testEnv({
      ...twilioEnv(tw),
      HERALD_PUBLIC_URL: PUBLIC_URL,
      HERALD_WEBHOOKS: JSON.stringify([{ url: `${receiver.url}/hooks`, events: ["notification.delivered", "notification.undelivered"], secrets: [secret] }]),
      HERALD_API_TOKENS: `enqueue:${TOKEN},admin:admin-token-0123456789abcdef`,
      HERALD_HTTP_PORT: "0",
      HERALD_HTTP_HOST: "127.0.0.1",
    });
    const config = loadConfig(env);
    prefix = config.HERALD_PREFIX;
    encryptionKey = config.HERALD_ENCRYPTION_KEY!;
    redis = new Redis(config.REDIS_URL);
    service = await startService({
      config,
      logger: createLogger({ level: "silent" }),
      redisExplicit: true,
      workers: true,
      http: true,
      onUndeliverable: async (report) => void undeliverable.push(report),
    });
  });
  afterAll(async () => {
    await service?.close();
    await deleteKeys(redis, prefix);
    redis?.disconnect();
    await tw?.close();
    await receiver?.close();
  });

  async function sendSms(phone: string): Promise<{ id: string; sid: string }> {
    const before = tw.messages.length;
    const response = await fetch(`${service.url}/v1/notifications/phone-verification`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient: { userId: "u1", phone }, code: "246810", tenant: { id: "acme" } }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const message = (await tw.waitForMessages(before + 1)).at(-1)!;
    expect(message.StatusCallback).toBe(`${PUBLIC_URL}/v1/callbacks/twilio`);
    // The worker records the message id before the job completes: a callback can come at once.
    const delivered = await fetch(`${service.url}/v1/notifications/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(delivered.status).toBe(200);
    return { id, sid: message.sid };
  }

  /** Posts a callback the way Twilio does: to the public URL's path, signed over the public URL. */
  function callback(sid: string, status: string, extra: Record<string, string> = {}) {
    const params = { AccountSid: tw.accountSid, MessageSid: sid, MessageStatus: status, ApiVersion: "2010-04-01", ...extra };
    return fetch(`${service.url}/v1/callbacks/twilio`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilio.getExpectedTwilioSignature(tw.authToken, `${PUBLIC_URL}/v1/callbacks/twilio`, params),
      },
      body: new URLSearchParams(params).toString(),
    });
  }

  it("delivered: the status shows it and the endpoint gets notification.delivered, verified with standardwebhooks", async () => {
    const { id, sid } = await sendSms("+41 79 555 01 01");
    expect((await callback(sid, "sent")).status).toBe(204);
    expect((await callback(sid, "delivered")).status).toBe(204);
    const hook = await receiver.next((r) => r.payload?.data.id === id);
    expect(hook.payload).toMatchObject({
      type: "notification.delivered",
      data: { id, kind: "phone-verification", channel: "sms", tenant: "acme", status: "delivered", provider: "twilio", attempts: 1 },
    });
    expect(Object.keys(hook.payload!.data.times).sort()).toEqual(["acceptedAt", "deliveredAt", "enqueuedAt"]);
    expect(hook.body).not.toMatch(/246810|\+41/);
    const status = await (await fetch(`${service.url}/v1/notifications/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(status).toMatchObject({ status: "delivered", handset: { status: "delivered" } });
    // A repeat publishes nothing more.
    expect((await callback(sid, "delivered")).status).toBe(204);
    expect(receiver.received.filter((r) => r.payload?.data.id === id)).toHaveLength(1);
  });

  it("undelivered with a permanent carrier code: notification.undelivered with the code, the number suppressed, the hook told", async () => {
    const { id, sid } = await sendSms("+41 79 555 01 02");
    expect((await callback(sid, "undelivered", { ErrorCode: "30005" })).status).toBe(204);
    const hook = await receiver.next((r) => r.payload?.data.id === id);
    expect(hook.payload).toMatchObject({ type: "notification.undelivered", data: { id, status: "undelivered", errorCode: "twilio-30005" } });
    expect(undeliverable.map((r) => r.ref?.id)).toEqual([id]);
    // The number is on the suppression list now (by its keyed hash), and the next SMS to it is not sent.
    const suppressions = new Suppressions(redis, prefix, decodeKey(encryptionKey, "HERALD_ENCRYPTION_KEY"));
    expect(await suppressions.check("+41795550102")).toMatchObject({ source: "bounce", code: "twilio-30005", kind: "phone-verification", channel: "sms" });
    expect(JSON.stringify(await suppressions.list())).not.toMatch(/\+?41795550102/);
    const before = tw.messages.length;
    const deadLettered = new Map<string, string>();
    const listener = (job: { id?: string }, failureClass: string) => deadLettered.set(String(job.id), failureClass);
    service.workers!.events.on("dead-lettered", listener);
    const again = await fetch(`${service.url}/v1/notifications/phone-verification`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient: { userId: "u1", phone: "+41 79 555 01 02" }, code: "246811" }),
    });
    const { id: suppressedId } = (await again.json()) as { id: string };
    while (!deadLettered.has(suppressedId)) await once(service.workers!.events, "dead-lettered");
    service.workers!.events.off("dead-lettered", listener);
    expect(deadLettered.get(suppressedId)).toBe("suppressed");
    const status = await (await fetch(`${service.url}/v1/notifications/${suppressedId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(status).toMatchObject({ status: "dead-lettered", failureClass: "suppressed" });
    expect(tw.messages.length).toBe(before);
    // A transient code (30008, unknown error) is not a reason to suppress a number.
    const other = await sendSms("+41 79 555 01 03");
    expect((await callback(other.sid, "undelivered", { ErrorCode: "30008" })).status).toBe(204);
    await receiver.next((r) => r.payload?.data.id === other.id);
    expect(undeliverable).toHaveLength(1);
    expect(await suppressions.check("+41795550103")).toBeUndefined();
  });

  it("a forged callback is refused with 403", async () => {
    const response = await fetch(`${service.url}/v1/callbacks/twilio`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "bm90IGEgc2lnbmF0dXJl" },
      body: "MessageSid=SM1&MessageStatus=delivered",
    });
    expect(response.status).toBe(403);
  });
});
