import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJob } from "../../src/contracts/index.js";
import { memoryLog } from "../support/log-sink.js";
import { toEnvelope } from "../../src/queues/envelope.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";

describe("jobs that must not be sent", () => {
  let smtp: SmtpTestServer;
  let h: TestHerald;
  let email: Queue;
  const log = memoryLog();

  beforeAll(async () => {
    smtp = await startSmtpServer();
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" }, { logger: log.logger });
    email = new Queue("email", { connection: h.redis, prefix: h.config.HERALD_PREFIX });
  });
  afterAll(async () => {
    await email?.close();
    await h?.close();
    await smtp?.close();
  });

  it("a malformed job written straight into the queue is dead-lettered as invalid, never retried, and the worker keeps going", async () => {
    const raw = await email.add("password-reset", { hello: "world" }, { attempts: 5 });
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("invalid");
    const letter = await h.workers.deadLetters.get(`email-${raw.id}`);
    expect(letter).toMatchObject({ failureClass: "invalid", attempts: 1, data: { hello: "world" } });
    expect(letter!.reason).toMatch(/not a Herald job/);
    // A job that will never be delivered is an error in the log (alerting on level >= error sees it).
    const logged = log.records().find((l) => l.msg === "job dead-lettered" && l.jobId === raw.id);
    expect(logged).toMatchObject({ level: 50, failureClass: "invalid", queue: "email", kind: "password-reset" });
    // the worker is still up: a good job after the bad one is delivered
    await h.herald.emailVerification({ recipient: { userId: "u", email: "ok@example.com" }, code: "1", url: "https://x.test/v" });
    await smtp.waitForMails(1);
    expect(h.workers.workers.every((w) => w.isRunning())).toBe(true);
  });

  it("a job whose contract fields are wrong names the field in the dead letter", async () => {
    const key = Buffer.from(h.config.HERALD_ENCRYPTION_KEY!, "base64");
    const envelope = toEnvelope("email-verification", { recipient: { userId: "u", email: "not-an-address" }, code: "1", url: "https://x.test" } as never, key);
    await email.add("email-verification", envelope);
    await h.nextDeadLetter();
    const letter = (await h.workers.deadLetters.list({ failureClass: "invalid" })).items[0]!;
    expect(letter.reason).toMatch(/recipient\.email must be a valid email address/);
  });

  it("secrets sealed with another key: dead-lettered as invalid with a reason that says so", async () => {
    const job = parseJob("email-verification", { recipient: { userId: "u", email: "a@example.com" }, code: "1", url: "https://x.test" });
    const { id } = await email.add("email-verification", toEnvelope("email-verification", job, randomBytes(32)));
    await h.nextDeadLetter();
    const letter = await h.workers.deadLetters.get(`email-${id}`);
    expect(letter?.failureClass).toBe("invalid");
    expect(letter?.reason).toMatch(/HERALD_ENCRYPTION_KEY/);
  });

  it("a code that expired while queued is dead-lettered as expired and nothing is sent", async () => {
    const sentBefore = smtp.attempts;
    const key = Buffer.from(h.config.HERALD_ENCRYPTION_KEY!, "base64");
    // A producer with a clock ahead of the worker's, or a queue backlog, would do this.
    const job = parseJob("password-reset", {
      recipient: { userId: "u", email: "late@example.com" },
      code: "LATE",
      url: "https://x.test/r",
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const { id } = await email.add("password-reset", toEnvelope("password-reset", job, key));
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("expired");
    expect((await h.workers.deadLetters.get(`email-${id}`))?.reason).toMatch(/expired/);
    expect(smtp.attempts).toBe(sentBefore);
  });
});
