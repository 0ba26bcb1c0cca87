import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Queue, QueueEvents } from "bullmq";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SmsProvider } from "../../src/channels/provider.js";
import { HeraldMetrics } from "../../src/metrics.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { ProviderReports } from "../../src/queues/provider-reports.js";
import { WEBHOOK_DEAD_LETTER_QUEUE, WEBHOOK_QUEUE } from "../../src/queues/names.js";
import { replayedEvent } from "../../src/queues/notification-events.js";
import { WebhookDeadLetters, WebhookOutbox, webhookPolicyOf } from "../../src/queues/webhook-outbox.js";
import { newSecret } from "../../src/webhooks/standard-webhooks.js";
import { ADMIN_TOKEN, asAdmin, asEnqueue, startApiHarness } from "../support/harness.js";
import { startReceiver } from "../support/webhook-receiver.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

/** A port nothing listens on: an endpoint that is down for good. */
async function closedPort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("outbound webhooks: signed (Standard Webhooks), their own queue, retries and dead letters", () => {
  const [oldSecret, newSecretOfOk] = [newSecret(), newSecret()];
  const secrets = { "/ok": newSecretOfOk, "/flaky": newSecret(), "/slow": newSecret() };
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let tw: TwilioServer;
  let h: TestHerald;
  let webhookDead: Queue;
  const metrics = new HeraldMetrics({ processMetrics: false });
  const counted = async (endpoint: string, outcome: string) =>
    Number(new RegExp(`herald_webhooks_total\\{endpoint="${endpoint}",outcome="${outcome}"\\} (\\d+)`).exec(await metrics.render())?.[1] ?? 0);

  beforeAll(async () => {
    receiver = await startReceiver(secrets, (path, nth) => (path === "/flaky" && nth === 1 ? 500 : path === "/slow" ? "hang" : 200));
    tw = await startTwilioServer();
    const down = `http://127.0.0.1:${await closedPort()}/down`;
    const endpoints = [
      {
        id: "ok",
        url: `${receiver.url}/ok`,
        events: ["notification.accepted", "notification.dead_lettered", "notification.replayed"],
        secrets: [oldSecret, newSecretOfOk],
      },
      { id: "flaky", url: `${receiver.url}/flaky`, events: ["notification.accepted"], secrets: [secrets["/flaky"]] },
      { id: "slow", url: `${receiver.url}/slow`, events: ["notification.accepted"], secrets: [secrets["/slow"]] },
      { id: "down", url: down, events: ["notification.accepted"], secrets: [newSecret()] },
    ];
    h = await startTestHerald(
      {
        ...twilioEnv(tw),
        HERALD_WEBHOOKS: JSON.stringify(endpoints),
        HERALD_WEBHOOK_ATTEMPTS: "3",
        HERALD_WEBHOOK_BACKOFF_MS: "20",
        HERALD_WEBHOOK_TIMEOUT_MS: "300",
      },
      // The breaker has its own test below; here every failure must spend an attempt.
      { webhookBreaker: { failures: 1000, openMs: 1000 } },
    );
    webhookDead = new Queue(WEBHOOK_DEAD_LETTER_QUEUE, { connection: h.redis, prefix: h.config.HERALD_PREFIX });
    metrics.attach(h.workers.events);
  });
  afterAll(async () => {
    await webhookDead?.close();
    await h?.close();
    await receiver?.close();
    await tw?.close();
  });

  const passwordReset = (n: number) =>
    h.herald.passwordReset({
      recipient: { userId: `u${n}`, email: `person${n}@example.com` },
      code: `RST${n}X`,
      url: `https://id.example.com/reset?token=secret-token-${n}`,
      tenant: { id: "tenant-1" },
    });

  it("notification.accepted reaches the endpoint signed with every secret of a rotation, and carries no personal data", async () => {
    const { id } = await passwordReset(1);
    const delivery = await receiver.next((r) => r.path === "/ok" && r.payload?.data.id === id);
    expect(delivery.answered).toBe(200);
    // Either secret of the rotation verifies it.
    expect(() => new Webhook(oldSecret).verify(delivery.body, delivery.headers as Record<string, string>)).not.toThrow();
    expect(String(delivery.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(delivery.headers["webhook-id"]).toMatch(/^msg_/);
    expect(delivery.payload).toMatchObject({
      type: "notification.accepted",
      data: { id, kind: "password-reset", channel: "email", tenant: "tenant-1", status: "accepted", provider: "outbox", attempts: 1 },
    });
    expect(Object.keys(delivery.payload!.data.times).sort()).toEqual(["acceptedAt", "enqueuedAt"]);
    expect(delivery.body).not.toMatch(/person1|example\.com|secret-token|reset\?|RST1X/);
  });

  it("an endpoint answering 500 then 200 gets the event once more, with the same webhook-id, and is then done", async () => {
    const { id } = await passwordReset(2);
    const success = await receiver.next((r) => r.path === "/flaky" && r.payload?.data.id === id && r.answered === 200);
    const attempts = receiver.received.filter((r) => r.path === "/flaky" && r.payload?.data.id === id);
    expect(attempts.map((r) => r.answered)).toEqual([500, 200]);
    expect(attempts[0]!.headers["webhook-id"]).toBe(success.headers["webhook-id"]);
    // Publishing the same event again (a sweep after a crash) adds no second message.
    const queue = new Queue(WEBHOOK_QUEUE, { connection: h.redis, prefix: h.config.HERALD_PREFIX });
    const jobId = `${success.headers["webhook-id"]}-flaky`;
    expect(await (await queue.getJob(jobId))?.getState()).toBe("completed");
    await h.workers.outbox!.publish(success.payload as never);
    expect(await queue.getJobCountByTypes("wait", "delayed", "active")).toBeLessThanOrEqual(4);
    expect(await (await queue.getJob(jobId))?.getState()).toBe("completed");
    await queue.close();
    expect(receiver.received.filter((r) => r.path === "/flaky" && r.payload?.data.id === id && r.answered === 200)).toHaveLength(1);
  });

  it("an endpoint down for good ends in the webhook dead letters, while mail flows at full speed past a hanging one", async () => {
    const started = Date.now();
    const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => passwordReset(100 + i)));
    const ids = new Set(sent.map((s) => s.id));
    const delivered = new Set<string>();
    while (delivered.size < ids.size) {
      const { job } = await h.nextDelivery();
      if (ids.has(job.id!)) delivered.add(job.id!);
    }
    // 40 mails while one endpoint refuses connections and another never answers (0.3 s timeout, 3 tries):
    // the mails do not wait for either.
    expect(Date.now() - started).toBeLessThan(5000);
    const last = sent.at(-1)!.id;
    for (;;) {
      const letters = await webhookDead.getWaiting(0, 1000);
      const mine = letters.filter((l) => l.data.endpointId === "down" && l.data.event.data.id === last);
      if (mine.length > 0) {
        expect(mine[0]!.data).toMatchObject({ endpointId: "down", attempts: 3, event: { type: "notification.accepted" } });
        expect(mine[0]!.data.reason).toMatch(/ECONNREFUSED|fetch failed/);
        break;
      }
      await once(h.workers.webhookDelivery!.worker, "failed");
    }
    // Counted for /metrics where the webhook worker runs.
    expect(await counted("down", "dead_lettered")).toBeGreaterThanOrEqual(1);
    expect(await counted("down", "failed")).toBeGreaterThanOrEqual(2);
    expect(await counted("flaky", "failed")).toBeGreaterThanOrEqual(1);
    expect(await counted("ok", "delivered")).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("a webhook dead letter can be replayed: fresh attempts, the same webhook-id, back to the dead letters if the endpoint is still down", async () => {
    const letters = new WebhookDeadLetters(h.redis, h.config.HERALD_PREFIX, webhookPolicyOf(h.config));
    try {
      const { items } = await letters.list(0, 1);
      const letter = items[0]!;
      expect(letter).toMatchObject({ endpointId: expect.any(String), attempts: 3 });
      expect(JSON.stringify(letter)).not.toMatch(/example\.com|secret-token|RST\d+X/);
      // Told when the letter is dead-lettered again (Redis stream events, from the worker's own queue instance).
      const blocking = h.redis.duplicate({ maxRetriesPerRequest: null });
      const events = new QueueEvents(WEBHOOK_DEAD_LETTER_QUEUE, { connection: blocking, prefix: h.config.HERALD_PREFIX });
      try {
        await events.waitUntilReady();
        const deadAgain = new Promise<void>((resolve) => events.on("added", ({ jobId }) => jobId === letter.id && resolve()));
        expect(await letters.replay(letter.id)).toBe(true);
        expect(await letters.replay(letter.id)).toBe(false); // gone from the dead letters
        await deadAgain; // three fresh attempts, all refused
        const back = await webhookDead.getJob(letter.id);
        expect(back!.data).toMatchObject({ messageId: letter.messageId, attempts: 3 });
        expect(Date.parse(back!.data.failedAt)).toBeGreaterThan(Date.parse(letter.failedAt));
      } finally {
        await events.close();
        blocking.disconnect();
      }
    } finally {
      await letters.close();
    }
  });

  it("notification.dead_lettered, then notification.replayed with the new id", async () => {
    tw.failFor("+15005550001", { status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." });
    const { id } = await h.herald.phoneVerification({ recipient: { userId: "u9", phone: "+15005550001" }, code: "775533" });
    const dead = await receiver.next((r) => r.path === "/ok" && r.payload?.type === "notification.dead_lettered" && r.payload.data.id === id);
    expect(dead.payload!.data).toMatchObject({
      id,
      kind: "phone-verification",
      channel: "sms",
      status: "dead-lettered",
      failureClass: "permanent",
      errorCode: "twilio-21211",
    });
    expect(dead.payload!.data.times.deadLetteredAt).toBeDefined();
    expect(dead.body).not.toMatch(/775533|15005550001/);

    const outbox = new WebhookOutbox(h.redis, h.config.HERALD_PREFIX, h.config.webhooks, webhookPolicyOf(h.config));
    const deadLetters = new DeadLetters(h.redis, h.config.HERALD_PREFIX, undefined, (letter, newId) => outbox.publish(replayedEvent(letter, newId)));
    const newId = await deadLetters.replay(`sms-${id}`);
    const replayed = await receiver.next((r) => r.path === "/ok" && r.payload?.type === "notification.replayed" && r.payload.data.id === id);
    expect(replayed.payload!.data).toMatchObject({ id, status: "replayed", replayedAs: newId });
    await deadLetters.close();
    await outbox.close();
  });
});

describe("webhook breaker: an endpoint that keeps failing is left alone for a while, without spending attempts", () => {
  it("after 2 failures in a row the next messages wait instead of being sent", async () => {
    const secret = newSecret();
    const receiver = await startReceiver({ "/broken": secret }, () => 503);
    const h = await startTestHerald(
      {
        HERALD_WEBHOOKS: JSON.stringify([{ id: "broken", url: `${receiver.url}/broken`, events: ["notification.accepted"], secrets: [secret] }]),
        HERALD_WEBHOOK_BACKOFF_MS: "60000",
        HERALD_WEBHOOK_CONCURRENCY: "1",
      },
      { webhookBreaker: { failures: 2, openMs: 60_000 } },
    );
    const blocking = h.redis.duplicate({ maxRetriesPerRequest: null });
    const events = new QueueEvents(WEBHOOK_QUEUE, { connection: blocking, prefix: h.config.HERALD_PREFIX });
    const queue = new Queue(WEBHOOK_QUEUE, { connection: h.redis, prefix: h.config.HERALD_PREFIX });
    try {
      await events.waitUntilReady();
      let delayed = 0;
      const allDelayed = new Promise<void>((resolve) =>
        events.on("delayed", () => {
          if (++delayed === 5) resolve();
        }),
      );
      for (let i = 0; i < 5; i++) {
        await h.herald.emailVerification({ recipient: { userId: `b${i}`, email: `b${i}@example.com` }, code: `B${i}`, url: "https://x.test/v" });
      }
      await allDelayed;
      expect(receiver.received).toHaveLength(2);
      const jobs = await queue.getDelayed();
      expect(jobs.map((j) => j.attemptsMade).sort()).toEqual([0, 0, 0, 1, 1]);
    } finally {
      await events.close();
      blocking.disconnect();
      await queue.close();
      await h.close();
      await receiver.close();
    }
  });
});

describe("webhook queues in Bull Board and /metrics", () => {
  it("appear when endpoints are configured, beside the delivery queues", async () => {
    const board = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` };
    const h = await startApiHarness({ workers: false, server: { webhooks: { attempts: 3, backoffMs: 20 } } });
    try {
      const queues = (await h.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: board })).json().queues;
      expect(queues.map((q: { name: string }) => q.name).sort()).toEqual(["dead-letter", "email", "sms", "webhook-dead-letter", "webhooks"]);
      const metrics = await h.app.inject({ method: "GET", url: "/metrics" });
      expect(metrics.body).toMatch(/herald_queue_jobs\{queue="webhook-dead-letter",state="waiting"\} 0/);
    } finally {
      await h.close();
    }
  });

  it("/v1/webhooks/dead-letters lists and replays them (admin only); absent without endpoints", async () => {
    const h = await startApiHarness({ workers: false, server: { webhooks: { attempts: 4, backoffMs: 20 } } });
    const plain = await startApiHarness({ workers: false });
    try {
      const id = `msg_${"a".repeat(24)}-crm`;
      const dead = new Queue(WEBHOOK_DEAD_LETTER_QUEUE, { connection: h.redis, prefix: h.config.HERALD_PREFIX });
      const event = { type: "notification.accepted", timestamp: new Date().toISOString(), data: { id: "n-7", times: {} } };
      await dead.add(
        event.type,
        {
          endpointId: "crm",
          messageId: `msg_${"a".repeat(24)}`,
          event,
          url: "https://crm.example.com/h",
          attempts: 12,
          reason: "answered HTTP 500",
          failedAt: new Date().toISOString(),
        },
        { jobId: id },
      );
      await dead.close();

      expect((await h.app.inject({ method: "GET", url: "/v1/webhooks/dead-letters", headers: asEnqueue })).statusCode).toBe(403);
      const list = await h.app.inject({ method: "GET", url: "/v1/webhooks/dead-letters?limit=10", headers: asAdmin });
      expect(list.statusCode).toBe(200);
      expect(list.json()).toMatchObject({
        total: 1,
        items: [{ id, endpointId: "crm", attempts: 12, reason: "answered HTTP 500", event: { data: { id: "n-7" } } }],
      });
      expect((await h.app.inject({ method: "GET", url: "/v1/webhooks/dead-letters?limit=0", headers: asAdmin })).statusCode).toBe(400);

      const replay = await h.app.inject({ method: "POST", url: `/v1/webhooks/dead-letters/${id}/replay`, headers: asAdmin });
      expect(replay.statusCode).toBe(202);
      const queue = new Queue(WEBHOOK_QUEUE, { connection: h.redis, prefix: h.config.HERALD_PREFIX });
      expect((await queue.getJob(id))?.opts.attempts).toBe(4);
      await queue.close();
      expect((await h.app.inject({ method: "POST", url: `/v1/webhooks/dead-letters/${id}/replay`, headers: asAdmin })).statusCode).toBe(404);
      expect((await h.app.inject({ method: "POST", url: "/v1/webhooks/dead-letters/wait/replay", headers: asAdmin })).statusCode).toBe(404);

      expect((await plain.app.inject({ method: "GET", url: "/v1/webhooks/dead-letters", headers: asAdmin })).statusCode).toBe(404);
    } finally {
      await h.close();
      await plain.close();
    }
  });
});

describe("a status callback faster than the worker", () => {
  it("is published by the worker once it knows the notification, exactly once", async () => {
    const secret = newSecret();
    const receiver = await startReceiver({ "/hooks": secret }, () => 200);
    let reports: ProviderReports | undefined;
    let n = 0;
    // Twilio's callback lands (and is recorded) before the API call has even returned to the worker.
    const racing: SmsProvider = {
      provider: "twilio",
      async send() {
        const sid = `SM${String(++n).padStart(32, "0")}`;
        await reports!.apply("twilio", sid, { status: "delivered", at: new Date() });
        return { provider: "twilio", messageId: sid, acceptedAt: new Date().toISOString() };
      },
      classify: () => ({ permanent: false, code: "x" }),
      async close() {},
    };
    const h = await startTestHerald(
      {
        HERALD_PUBLIC_URL: "https://herald.example.com",
        HERALD_WEBHOOKS: JSON.stringify([{ url: `${receiver.url}/hooks`, events: ["notification.delivered"], secrets: [secret] }]),
      },
      { providers: { sms: racing } },
    );
    reports = new ProviderReports(h.redis, h.config.HERALD_PREFIX);
    try {
      const { id } = await h.herald.phoneVerification({ recipient: { userId: "r1", phone: "+41 79 555 02 02" }, code: "135790" });
      const hook = await receiver.next((r) => r.payload?.data.id === id);
      expect(hook.payload).toMatchObject({ type: "notification.delivered", data: { id, status: "delivered", provider: "twilio" } });
      // The callback itself could not name the notification (no reference yet), so nothing else was sent.
      await h.nextDelivery();
      expect(receiver.received.filter((r) => r.payload?.data.id === id)).toHaveLength(1);
    } finally {
      await h.close();
      await receiver.close();
    }
  });
});
