import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Herald } from "../../src/queues/producer.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { asAdmin, asEnqueue, startApiHarness, type ApiHarness } from "../support/harness.js";

const verification = (email: string, code: string) => ({ recipient: { userId: "u-life", email }, code, url: `https://login.acme.test/verify?c=${code}` });

/** A sample of the metrics text: the value of one series, 0 when absent. */
function sample(metrics: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? "";
    if (wanted.every((w) => labelPart.split(",").includes(w))) return Number(line.split(" ").pop());
  }
  return 0;
}

describe("HTTP API with real workers and a real SMTP server", () => {
  let smtp: SmtpTestServer;
  let h: ApiHarness;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    // Workers start inside the first test, so the status can be seen as queued first.
    h = await startApiHarness({ env: { SMTP_URL: smtp.url, SMTP_FROM: "Acme ID <no-reply@acme.test>" }, workers: false });
  });
  afterAll(async () => {
    await h?.close();
    await smtp?.close();
  });
  afterEach(() => {
    smtp.release();
  });

  const status = async (id: string) => {
    const res = await h.app.inject({ method: "GET", url: `/v1/notifications/${id}`, headers: asEnqueue });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/@example\.com|CODE|acme\.test\/verify/);
    return res.json();
  };
  const metricsText = async () => (await h.app.inject({ method: "GET", url: "/metrics" })).body;

  it("status moves queued → active → delivered (provider message id, time) for a real delivery", async () => {
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: verification("life1@example.com", "CODE1111"),
    });
    expect(res.statusCode).toBe(202);
    const { id } = res.json();
    expect(await status(id)).toMatchObject({ id, status: "queued", kind: "email-verification", channel: "email", attempts: 0 });

    smtp.hold();
    await h.startWorkers();
    await smtp.waitForHeld();
    expect(await status(id)).toMatchObject({ id, status: "active" });

    const delivered = h.nextDelivery();
    smtp.release();
    const { job, result } = await delivered;
    expect(job.id).toBe(id);
    const mail = smtp.mails.at(-1)!;
    expect(mail.envelope.to).toEqual(["life1@example.com"]);
    const done = await status(id);
    expect(done).toMatchObject({ id, status: "delivered", provider: "smtp", messageId: result.messageId, deliveredAt: result.acceptedAt, attempts: 1 });
    expect(done.messageId).toBe(mail.parsed.messageId);
  });

  it("an SMTP 550 dead-letters the job; status says dead-lettered with class and reason; replay delivers once the server accepts", async () => {
    const metricsBefore = await metricsText();
    // 5.7.1 (policy), not 5.1.1: a bounce would put the address on the suppression list and the replay would not send.
    smtp.replyNext({ code: 550, message: "5.7.1 <dead@example.com>: mailbox unavailable by policy" });
    const deadLettered = h.nextDeadLetter();
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: verification("dead@example.com", "CODE2222"),
    });
    const { id } = res.json();
    const { job, failureClass } = await deadLettered;
    expect(job.id).toBe(id);
    expect(failureClass).toBe("permanent");

    const st = await status(id);
    expect(st).toMatchObject({ id, status: "dead-lettered", failureClass: "permanent", code: "smtp-550", deadLetterId: `email-${id}`, attempts: 1 });
    expect(st.reason).toMatch(/550|mailbox unavailable/);
    expect(st.reason).not.toContain("dead@example.com");

    // The dead letter through the admin API: no data, email or sealed secrets.
    const letter = await h.app.inject({ method: "GET", url: `/v1/dead-letters/email-${id}`, headers: asAdmin });
    expect(letter.statusCode).toBe(200);
    expect(Object.keys(letter.json()).sort()).toEqual(["attempts", "code", "failedAt", "failureClass", "id", "kind", "originalJobId", "queue", "reason"]);
    expect(letter.json()).toMatchObject({
      id: `email-${id}`,
      kind: "email-verification",
      queue: "email",
      originalJobId: id,
      failureClass: "permanent",
      code: "smtp-550",
    });
    expect(letter.body).not.toMatch(/dead@example\.com|sealed|CODE2222/);
    const list = await h.app.inject({ method: "GET", url: "/v1/dead-letters", headers: asAdmin });
    expect(list.json()).toMatchObject({ total: 1, offset: 0, limit: 50, items: [{ id: `email-${id}` }] });
    expect(list.body).not.toMatch(/dead@example\.com|sealed/);

    // Counters moved: the enqueue, the failure, the dead letter and its provider code.
    await h.app.heraldMetrics.settled();
    const after = await metricsText();
    const labels = { kind: "email-verification", channel: "email" };
    expect(sample(after, "herald_jobs_enqueued_total", labels)).toBe(sample(metricsBefore, "herald_jobs_enqueued_total", labels) + 1);
    expect(sample(after, "herald_jobs_failed_total", labels)).toBe(sample(metricsBefore, "herald_jobs_failed_total", labels) + 1);
    expect(sample(after, "herald_jobs_dead_lettered_total", { ...labels, failure_class: "permanent" })).toBe(1);
    expect(sample(after, "herald_provider_errors_total", { channel: "email", code: "smtp-550" })).toBe(1);
    expect(sample(after, "herald_queue_jobs", { queue: "dead-letter", state: "waiting" })).toBe(1);

    // Replay: a new job with a new id, delivered this time.
    const before = smtp.mails.length;
    const delivered = h.nextDelivery();
    const replay = await h.app.inject({ method: "POST", url: `/v1/dead-letters/email-${id}/replay`, headers: asAdmin });
    expect(replay.statusCode).toBe(202);
    const replayed = replay.json();
    expect(replayed).toMatchObject({ deadLetterId: `email-${id}`, kind: "email-verification", channel: "email", status: "queued" });
    expect(replayed.id).not.toBe(id);
    expect((await delivered).job.id).toBe(replayed.id);
    const mail = (await smtp.waitForMails(before + 1))[before]!;
    expect(mail.envelope.to).toEqual(["dead@example.com"]);
    expect(String(mail.parsed.text)).toContain("CODE2222");
    expect(await status(replayed.id)).toMatchObject({ status: "delivered", provider: "smtp" });
    // The id the producer was given still leads to its notification: the replayed job's status.
    const followed = await status(id);
    expect(followed).toMatchObject({ id: replayed.id, originalId: id, status: "delivered", provider: "smtp" });

    // The dead letter is gone.
    expect((await h.app.inject({ method: "GET", url: `/v1/dead-letters/email-${id}`, headers: asAdmin })).statusCode).toBe(404);
    expect((await h.app.inject({ method: "POST", url: `/v1/dead-letters/email-${id}/replay`, headers: asAdmin })).statusCode).toBe(404);
  });

  it("a repeated idempotency key answers the first job's current state: delivered, not queued", async () => {
    const body = { ...verification("idem-life@example.com", "CODE5555"), idempotencyKey: "verify-u-life-20261128100000" };
    const delivered = h.nextDelivery();
    const first = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload: body });
    expect(first.json()).toMatchObject({ status: "queued", deduplicated: false });
    expect((await delivered).job.id).toBe(first.json().id);
    const again = await h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload: body });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ id: first.json().id, deduplicated: true, status: "delivered" });
  });

  it("metrics: a delivery moves the delivered counter and the latency histogram", async () => {
    const labels = { kind: "email-verification", channel: "email" };
    const before = await metricsText();
    const delivered = h.nextDelivery();
    await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: verification("metrics@example.com", "CODE3333"),
    });
    await delivered;
    const after = await metricsText();
    expect(sample(after, "herald_jobs_delivered_total", labels)).toBe(sample(before, "herald_jobs_delivered_total", labels) + 1);
    expect(sample(after, "herald_delivery_latency_seconds_count", labels)).toBe(sample(before, "herald_delivery_latency_seconds_count", labels) + 1);
    expect(sample(after, "herald_delivery_latency_seconds_bucket", { ...labels, le: "+Inf" })).toBe(
      sample(before, "herald_delivery_latency_seconds_bucket", { ...labels, le: "+Inf" }) + 1,
    );
    expect(sample(after, "herald_redis_up")).toBe(1);
    expect(after).toMatch(/^process_cpu_user_seconds_total /m);
    expect(after).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(after).not.toMatch(/metrics@example\.com|CODE3333/);
  });

  it("status says retrying (attempts, next try, scrubbed error) after a transient SMTP failure; retries are counted", async () => {
    // A producer with a long backoff, so the job is still waiting for its retry when we look.
    const slow = new Herald({
      redis: h.config.REDIS_URL,
      prefix: h.config.HERALD_PREFIX,
      encryptionKey: h.config.HERALD_ENCRYPTION_KEY,
      retry: { attempts: 3, backoffMs: 60_000 },
    });
    try {
      const before = await metricsText();
      smtp.replyNext({ code: 451, message: "4.7.1 <retry@example.com> try again later" });
      const retrying = h.nextRetry();
      const { id } = await slow.emailVerification(verification("retry@example.com", "CODE4444"));
      const { job, error } = await retrying;
      expect(job.id).toBe(id);
      expect((error as { code?: string }).code).toBe("smtp-451");
      const st = await status(id);
      expect(st).toMatchObject({ id, status: "retrying", attempts: 1 });
      const next = Date.parse(st.nextAttemptAt);
      expect(next).toBeGreaterThan(Date.now() + 20_000);
      expect(next).toBeLessThan(Date.now() + 61_000);
      expect(st.lastError).toMatch(/451/);
      expect(st.lastError).not.toMatch(/^\[/); // the mover's class tag is not for people
      expect(st.lastErrorCode).toBe("smtp-451");
      expect(st.lastError).not.toContain("retry@example.com");

      const after = await metricsText();
      const labels = { kind: "email-verification", channel: "email" };
      expect(sample(after, "herald_jobs_retries_total", labels)).toBe(sample(before, "herald_jobs_retries_total", labels) + 1);
      expect(sample(after, "herald_provider_errors_total", { channel: "email", code: "smtp-451" })).toBe(1);
      expect(sample(after, "herald_queue_jobs", { queue: "email", state: "delayed" })).toBe(1);
    } finally {
      await slow.close();
    }
  });
});
