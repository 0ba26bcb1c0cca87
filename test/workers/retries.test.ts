import { afterEach, describe, expect, it } from "vitest";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

const mailJob = (email = "ada@example.com") => ({ recipient: { userId: "u1", email }, code: "SECRET42", url: "https://login.example.com/verify?c=SECRET42" });
const smsJob = (phone = "+41791234567") => ({ recipient: { userId: "u1", phone }, code: "77665544" });

describe("retries and dead letters", () => {
  let smtp: SmtpTestServer | undefined;
  let twilio: TwilioServer | undefined;
  let h: TestHerald | undefined;
  afterEach(async () => {
    await h?.close();
    await smtp?.close();
    await twilio?.close();
    h = smtp = twilio = undefined;
  });

  it("SMTP 421 twice then accepted → delivered exactly once, on the third attempt", async () => {
    smtp = await startSmtpServer();
    smtp.replyNext({ code: 421, message: "4.7.0 Try again later" }, 2);
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    const { id } = await h.herald.emailVerification(mailJob());
    const delivered = await h.nextDelivery();
    expect(delivered.job.id).toBe(id);
    expect(delivered.job.attemptsMade).toBe(3);
    expect(smtp.attempts).toBe(3);
    expect(smtp.mails).toHaveLength(1);
    expect(await h.workers.deadLetters.count()).toBe(0);
  });

  it("SMTP 550 → dead-lettered at once as permanent, with a scrubbed reason", async () => {
    smtp = await startSmtpServer();
    smtp.rejectFor("gone@example.com", { code: 550, message: "5.1.1 <gone@example.com>: mailbox unavailable" });
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    const { id } = await h.herald.emailVerification(mailJob("gone@example.com"));
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("permanent");
    expect(smtp.attempts).toBe(1);
    const letter = (await h.workers.deadLetters.list()).items[0]!;
    expect(letter).toMatchObject({ kind: "email-verification", queue: "email", originalJobId: id, failureClass: "permanent", code: "smtp-550", attempts: 1 });
    expect(letter.reason).toMatch(/550/);
    expect(letter.reason).not.toContain("gone@example.com");
    // gone from the delivery queue's failed set: the dead-letter queue holds the only copy
    const email = h.workers.workers.find((w) => w.name === "email")!;
    expect(await (await import("bullmq")).Job.fromId(email as never, id)).toBeUndefined();
  });

  it("SMTP 4xx on every attempt → dead-lettered as transient-exhausted after HERALD_ATTEMPTS", async () => {
    smtp = await startSmtpServer();
    smtp.replyNext({ code: 451, message: "4.3.0 Local error" }, 100);
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>", HERALD_ATTEMPTS: "3" });
    await h.herald.emailVerification(mailJob());
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("transient-exhausted");
    expect(smtp.attempts).toBe(3);
    const letter = (await h.workers.deadLetters.list()).items[0]!;
    expect(letter.attempts).toBe(3);
  });

  it("replay puts a dead letter back as a new job, which is delivered once the server accepts", async () => {
    smtp = await startSmtpServer();
    smtp.replyNext({ code: 554, message: "5.7.1 Rejected" });
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    const { id } = await h.herald.emailVerification(mailJob());
    await h.nextDeadLetter();
    const letter = (await h.workers.deadLetters.list()).items[0]!;
    const delivery = h.nextDelivery();
    const newId = await h.workers.deadLetters.replay(letter.id);
    expect(newId).toMatch(/^[0-9a-f-]{36}$/);
    expect(newId).not.toBe(id);
    expect((await delivery).job.id).toBe(newId);
    expect(smtp.mails).toHaveLength(1);
    expect(await h.workers.deadLetters.count()).toBe(0);
  });

  it("a replayed job that fails again is dead-lettered again (nothing lost), and replaying one letter twice adds one job", async () => {
    smtp = await startSmtpServer();
    // A policy refusal: permanent, but not a bounce that would suppress the address (and keep the replay from sending).
    smtp.replyNext({ code: 550, message: "5.7.1 Rejected by policy" }, 2);
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    await h.herald.emailVerification(mailJob());
    await h.nextDeadLetter();
    const letter = (await h.workers.deadLetters.list()).items[0]!;
    // Two replays racing for one letter (a retried request, CLI and API at once): both name the same new job.
    const [a, b] = await Promise.all([h.workers.deadLetters.replay(letter.id), h.workers.deadLetters.replay(letter.id)]);
    expect(a).toBeDefined();
    expect([undefined, a]).toContain(b); // the loser may find the letter already replayed
    const again = await h.nextDeadLetter();
    expect(again.job.id).toBe(a);
    const { items } = await h.workers.deadLetters.list();
    expect(items.map((i) => i.originalJobId)).toEqual([a]);
    expect(smtp.attempts).toBe(2);
  });

  it("a dead-lettered job keeps its idempotency key: the same key again is not sent twice", async () => {
    smtp = await startSmtpServer();
    smtp.replyNext({ code: 550, message: "5.1.1 Unknown" });
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    const first = await h.herald.emailVerification({ ...mailJob(), idempotencyKey: "evt-42" });
    await h.nextDeadLetter();
    const second = await h.herald.emailVerification({ ...mailJob(), idempotencyKey: "evt-42" });
    expect(second).toMatchObject({ id: first.id, deduplicated: true });
    expect(smtp.attempts).toBe(1);
  });

  it("Twilio 500 then 201 → delivered", async () => {
    twilio = await startTwilioServer();
    twilio.failNext(1, { status: 500, code: 20500, message: "Internal Server Error" });
    h = await startTestHerald({
      ...twilioEnv(twilio),
    });
    const { id } = await h.herald.phoneVerification(smsJob());
    const delivered = await h.nextDelivery();
    expect(delivered.job.id).toBe(id);
    expect(twilio.messages).toHaveLength(1);
    expect(twilio.requests.filter((r) => r.method === "POST").map((r) => r.status)).toEqual([500, 201]);
  });

  it("Twilio 21211 (invalid number) → dead-lettered as permanent, number not in the reason", async () => {
    twilio = await startTwilioServer();
    twilio.failFor("+15005550001", { status: 400, code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." });
    h = await startTestHerald({
      ...twilioEnv(twilio),
    });
    await h.herald.phoneVerification(smsJob("+15005550001"));
    const dead = await h.nextDeadLetter();
    expect(dead.failureClass).toBe("permanent");
    const letter = (await h.workers.deadLetters.list()).items[0]!;
    expect(letter.code).toBe("twilio-21211");
    expect(letter.reason).not.toContain("5005550001");
    expect(twilio.requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });
});
