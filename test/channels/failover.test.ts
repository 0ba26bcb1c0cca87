import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { Breaker, type FailoverEvent } from "../../src/channels/failover.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

const mail = (n: number) => ({ recipient: { userId: `u-${n}`, email: `user${n}@example.com` }, code: `C${n}`, url: "https://login.example.com/verify" });
const sms = (phone: string) => ({ recipient: { userId: "u-1", phone }, code: "123456" });

describe("a circuit breaker per provider", () => {
  it("opens after N transient failures in a row, lets one probe through after the cool-off, closes on success, reopens on failure", () => {
    let now = 0;
    const events: FailoverEvent[] = [];
    const breaker = new Breaker("smtp", { failures: 2, coolOffMs: 1000, now: () => now }, (e) => events.push(e));
    breaker.failed();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failed();
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    now = 1000;
    expect(breaker.tryAcquire()).toBe(true); // the probe
    expect(breaker.tryAcquire()).toBe(false); // only one
    breaker.failed();
    expect(breaker.state).toBe("open");
    now = 2500;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.succeeded();
    expect(breaker.state).toBe("closed");
    expect(events.map((e) => (e.type === "breaker" ? e.state : e.type))).toEqual(["open", "half-open", "open", "half-open", "closed"]);
  });
});

describe("SMTP failover: two real SMTP servers", () => {
  let h: TestHerald | undefined;
  const servers: SmtpTestServer[] = [];
  afterAll(async () => {
    // Herald first: its pooled connections end, so the servers close at once.
    await h?.close();
    for (const server of servers) await server.close();
  });

  it("the first refusing connections, then answering 421: every mail arrives through the second, none twice; the breaker opens and later closes", async () => {
    const fallback = await startSmtpServer();
    servers.push(fallback);
    // A port where nothing listens: connection refused.
    const gone = await startSmtpServer();
    const port = gone.port;
    await gone.close();
    h = await startTestHerald({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SMTP_FALLBACK_URL: fallback.url,
      SMTP_FROM: "Herald <no-reply@example.com>",
      SMTP_POOL_SIZE: "1",
      HERALD_BREAKER_FAILURES: "2",
      HERALD_BREAKER_COOLOFF_MS: "400",
    });
    const breaker: string[] = [];
    const herald = h;
    herald.workers.events.on("provider-breaker", (_channel: string, provider: string, state: string) => breaker.push(`${provider}:${state}`));
    const send = async (from: number, to: number) => {
      const providers: string[] = [];
      for (let n = from; n < to; n++) {
        await herald.herald.emailVerification(mail(n));
        providers.push(String((await herald.nextDelivery()).result.provider));
      }
      return providers;
    };

    // Refused: all through the fallback; the breaker opens after two failures.
    expect(await send(0, 4)).toEqual(["smtp-fallback", "smtp-fallback", "smtp-fallback", "smtp-fallback"]);
    expect(breaker).toContain("smtp:open");

    // The primary is back but answers 421 to every message: the probe fails, the breaker opens again.
    const primary = await startSmtpServer({ port });
    servers.push(primary);
    primary.replyNext({ code: 421, message: "4.3.2 try again later" }, 1000);
    await new Promise((resolve) => setTimeout(resolve, 450)); // the cool-off, so the next send probes
    expect(await send(4, 8)).toEqual(["smtp-fallback", "smtp-fallback", "smtp-fallback", "smtp-fallback"]);
    expect(primary.attempts).toBeGreaterThan(0);
    expect(breaker.filter((b) => b === "smtp:open").length).toBeGreaterThanOrEqual(2);

    // It recovers: after the cool-off the probe succeeds, the breaker closes, mail goes through it again.
    primary.clearReplies();
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await send(8, 10)).toEqual(["smtp", "smtp"]);
    expect(breaker.at(-1)).toBe("smtp:closed");

    // Every mail arrived once, 8 through the fallback and 2 through the primary.
    const received = [...fallback.mails, ...primary.mails].map((m) => m.envelope.to[0]);
    expect(received.sort()).toEqual(Array.from({ length: 10 }, (_, n) => `user${n}@example.com`).sort());
    expect(fallback.mails).toHaveLength(8);
    expect(primary.mails).toHaveLength(2);
    const metricsText = await import("../../src/metrics.js").then(async ({ HeraldMetrics }) => {
      const m = new HeraldMetrics({ processMetrics: false });
      m.attach(herald.workers.events);
      await herald.herald.emailVerification(mail(10));
      await herald.nextDelivery();
      return m.render();
    });
    expect(metricsText).toContain('herald_provider_deliveries_total{channel="email",provider="smtp"} 1');
  }, 60_000);
});

describe("SMS failover: a second Twilio sender", () => {
  let primary: TwilioServer;
  let fallback: TwilioServer;
  let h: TestHerald;
  afterAll(async () => {
    await h?.close();
    await primary?.close();
    await fallback?.close();
  });

  it("Twilio answering 503: the fallback sender delivers; 21211: dead letter, no failover", async () => {
    primary = await startTwilioServer();
    fallback = await startTwilioServer();
    h = await startTestHerald({
      ...twilioEnv(primary),
      ...twilioEnv(fallback, { fallback: true }),
    });
    const failover = once(h.workers.events, "failover");
    primary.failNext(1, { status: 503, code: 20503, message: "Service unavailable" });
    await h.herald.phoneVerification(sms("+41791234567"));
    const delivered = await h.nextDelivery();
    expect(delivered.result.provider).toBe("twilio-fallback");
    expect(await failover).toEqual(["sms", "twilio", "twilio-fallback"]);
    expect(fallback.messages).toHaveLength(1);
    expect(fallback.messages[0]).toMatchObject({ To: "+41791234567", From: "+15005550009" });
    expect(primary.messages).toHaveLength(0);

    primary.failFor("+41791234568", { status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const fallbackRequests = fallback.requests.length;
    await h.herald.phoneVerification(sms("+41791234568"));
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("permanent");
    expect(fallback.requests.length).toBe(fallbackRequests);
    const letter = await h.workers.deadLetters.get(`sms-${dead.job.id}`);
    expect(letter).toMatchObject({ code: "twilio-21211" });

    // The primary down (503) and the fallback refusing (21408, no permission for the region): a problem of
    // the fallback, not a verdict on the message. The job is retried, not dead-lettered, and the primary delivers it.
    primary.failNext(1, { status: 503, code: 20503, message: "Service unavailable" });
    fallback.failNext(1, { status: 400, code: 21408, message: "Permission to send an SMS has not been enabled for the region" });
    const retried = h.nextDelivery();
    await h.herald.phoneVerification(sms("+41791234570"));
    const { job, result } = await retried;
    expect(result.provider).toBe("twilio");
    expect(job.attemptsMade).toBe(2); // the first attempt failed over and was retried; the second delivered
    expect(primary.messages.map((m) => m.To)).toContain("+41791234570");

    // Healthy again: the primary delivers.
    await h.herald.phoneVerification(sms("+41791234569"));
    expect((await h.nextDelivery()).result.provider).toBe("twilio");
  }, 60_000);
});
