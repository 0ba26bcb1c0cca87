import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Herald, type NotificationEvent, WaitTimeoutError } from "../../src/index.js";
import { startHeraldBase, startTestHerald, type TestHerald } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

describe("SDK: herald.events() and herald.waitFor() over BullMQ queue events (no HTTP)", () => {
  let tw: TwilioServer;
  let h: TestHerald;

  beforeAll(async () => {
    tw = await startTwilioServer();
    h = await startTestHerald(twilioEnv(tw));
    tw.failFor("+15005550001", { status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." });
  });
  afterAll(async () => {
    await h?.close();
    await tw?.close();
  });

  const verification = (n: number) =>
    h.herald.emailVerification({
      recipient: { userId: `u${n}`, email: `p${n}@example.com` },
      code: `CODE${n}`,
      url: `https://x.test/v?c=CODE${n}`,
      tenant: { id: "t-9" },
    });

  it("events() yields notification.accepted and notification.dead_lettered, without personal data", async () => {
    const events = h.herald.events();
    const { id } = await verification(1);
    const bad = await h.herald.phoneVerification({ recipient: { userId: "u2", phone: "+15005550001" }, code: "909090" });
    const seen = new Map<string, NotificationEvent>();
    for await (const event of events) {
      if (event.data.id === id || event.data.id === bad.id) seen.set(event.type, event);
      if (seen.size === 2) break;
    }
    expect(seen.get("notification.accepted")).toMatchObject({
      data: { id, kind: "email-verification", channel: "email", tenant: "t-9", status: "accepted", provider: "outbox", attempts: 1 },
    });
    expect(seen.get("notification.dead_lettered")).toMatchObject({
      data: { id: bad.id, kind: "phone-verification", channel: "sms", status: "dead-lettered", failureClass: "permanent", errorCode: "twilio-21211" },
    });
    expect(JSON.stringify([...seen.values()])).not.toMatch(/CODE1|909090|example\.com|15005550001/);
  });

  it("waitFor resolves when delivered, whether that happened before or after the call", async () => {
    const { id } = await verification(3);
    const waiting = h.herald.waitFor(id, { timeoutMs: 10_000 });
    const status = await waiting;
    expect(status).toMatchObject({ id, status: "delivered", provider: "outbox" });
    // Already delivered: answered from the status at once.
    expect(await h.herald.waitFor(id, { timeoutMs: 10_000 })).toMatchObject({ id, status: "delivered" });
  });

  it("waitFor resolves with the dead letter for a job that fails for good", async () => {
    // A producer of its own whose watch starts now, with no email traffic at all: the SMS and dead-letter
    // events must not wait behind the idle email stream's blocking read (BullMQ blocks 10 s per read).
    const producer = new Herald({ redis: h.config.REDIS_URL, prefix: h.config.HERALD_PREFIX, encryptionKey: h.config.HERALD_ENCRYPTION_KEY });
    try {
      const events = producer.events();
      const started = Date.now();
      const { id } = await producer.phoneVerification({ recipient: { userId: "u4", phone: "+15005550001" }, code: "111222" });
      for await (const event of events) if (event.type === "notification.dead_lettered" && event.data.id === id) break;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await producer.waitFor(id, { timeoutMs: 5_000 })).toMatchObject({ id, status: "dead-lettered", failureClass: "permanent", code: "twilio-21211" });
    } finally {
      await producer.close();
    }
  });

  it("closing the Herald ends a loop over its events and a pending waitFor; a signal ends a loop too", async () => {
    const producer = new Herald({ redis: h.config.REDIS_URL, prefix: h.config.HERALD_PREFIX, encryptionKey: h.config.HERALD_ENCRYPTION_KEY });
    const aborted = new AbortController();
    const byClose = producer.events()[Symbol.asyncIterator]().next();
    const bySignal = producer.events({ signal: aborted.signal })[Symbol.asyncIterator]().next();
    const waiting = producer.waitFor("00000000-0000-4000-8000-000000000000", { timeoutMs: 30_000 }).catch((e: Error) => e);
    aborted.abort();
    expect(await bySignal).toEqual({ done: true, value: undefined });
    await producer.close();
    expect(await byClose).toEqual({ done: true, value: undefined });
    expect(await waiting).toMatchObject({ message: expect.stringMatching(/closed while waiting/) });
  });

  it("waitFor rejects with WaitTimeoutError and the last status when no worker takes the job", async () => {
    const base = startHeraldBase();
    try {
      const { id } = await base.herald.emailVerification({ recipient: { userId: "u5", email: "p5@example.com" }, code: "C5", url: "https://x.test/v" });
      const error = await base.herald.waitFor(id, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect(error).toMatchObject({ id, ms: 300, lastStatus: { status: "queued" } });
    } finally {
      await base.close();
    }
  });
});
