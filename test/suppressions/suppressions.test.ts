import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Suppressions } from "../../src/queues/suppressions.js";
import { isHardBounce } from "../../src/channels/smtp-errors.js";
import { classifyTwilioError } from "../../src/channels/twilio-errors.js";
import { asAdmin, startApiHarness, type ApiHarness } from "../support/harness.js";
import { dumpValues } from "../support/herald.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";
import { runCli } from "../support/cli.js";

const job = (email: string) => ({ recipient: { userId: "u-1", email }, code: "123456", url: "https://login.example.com/verify" });

describe("the suppression list", () => {
  let smtp: SmtpTestServer;
  let twilio: TwilioServer;
  let h: ApiHarness;
  let list: Suppressions;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    twilio = await startTwilioServer();
    h = await startApiHarness({
      workers: false,
      env: {
        SMTP_URL: smtp.url,
        SMTP_FROM: "Herald <no-reply@example.com>",
        ...twilioEnv(twilio),
      },
    });
    list = new Suppressions(h.redis, h.config.HERALD_PREFIX, Buffer.from(h.config.HERALD_ENCRYPTION_KEY!, "base64"));
    await h.startWorkers();
  });
  afterAll(async () => {
    await h?.close();
    await smtp?.close();
    await twilio?.close();
  });

  it("a 550 5.1.1 bounce at RCPT suppresses the address; the next job is dead-lettered `suppressed` without an SMTP transaction; removing the entry lets mail flow", async () => {
    smtp.rejectRecipient("gone@example.com", { code: 550, message: "5.1.1 <gone@example.com>: mailbox does not exist" });
    const bounced = h.nextDeadLetter();
    await h.herald.emailVerification(job("gone@example.com"));
    expect((await bounced).failureClass).toBe("permanent");
    const entry = await list.check("Gone@Example.com");
    expect(entry).toMatchObject({ source: "bounce", code: "smtp-550", kind: "email-verification", channel: "email" });
    expect(entry!.expiresIn).toBeGreaterThan(29 * 86_400);

    const connections = smtp.connections;
    const transactions = smtp.transactions;
    const suppressed = h.nextDeadLetter();
    const { id } = await h.herald.emailVerification(job("gone@example.com"));
    const letter = await suppressed;
    expect(letter.failureClass).toBe("suppressed");
    expect(letter.job.id).toBe(id);
    expect(smtp.transactions).toBe(transactions);
    expect(smtp.connections).toBe(connections);
    const dead = await h.deadLetters.get(`email-${id}`);
    expect(dead).toMatchObject({ failureClass: "suppressed", attempts: 1 });
    expect(dead!.reason).toContain("suppression list");
    expect(dead!.reason).not.toContain("gone@");

    // Not a single address in the list's keys or values.
    const stored = await dumpValues(h.redis, `${h.config.HERALD_PREFIX}:suppressed`);
    expect(stored).toContain(":suppressed:");
    expect(stored.toLowerCase()).not.toContain("gone");

    // The mailbox is back and an admin removes the entry: mail flows.
    smtp.rejectRecipient("gone@example.com");
    const removed = await h.app.inject({ method: "POST", url: "/v1/suppressions/remove", headers: asAdmin, payload: { address: "gone@example.com" } });
    expect(removed.json()).toEqual({ removed: true });
    const delivered = h.nextDelivery();
    await h.herald.emailVerification(job("gone@example.com"));
    await delivered;
    expect(smtp.mails.at(-1)!.envelope.to).toEqual(["gone@example.com"]);
  });

  it("the worker's look-up (one GET, or one MGET over a keyring) finds an entry written under an older key and skips a corrupt one", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const prefix = h.config.HERALD_PREFIX;
    const before = new Suppressions(h.redis, prefix, oldKey);
    await before.add("Rotated@Example.com", { source: "admin", reason: "added before the rotation" });
    const after = new Suppressions(h.redis, prefix, {
      keys: [
        { id: "new", key: newKey },
        { id: "old", key: oldKey },
      ],
    });
    expect(await after.entryOf("rotated@example.com")).toMatchObject({ source: "admin", reason: "added before the rotation" });
    expect(await new Suppressions(h.redis, prefix, newKey).entryOf("rotated@example.com")).toBeUndefined();
    // A value that is not an entry under the newer key: ignored, the older key's entry still answers.
    await h.redis.set(`${prefix}:suppressed:${after.idOf("rotated@example.com")}`, "{not json");
    expect(await after.entryOf("rotated@example.com")).toMatchObject({ reason: "added before the rotation" });
    await h.redis.set(`${prefix}:suppressed:${after.idOf("rotated@example.com")}`, "5");
    expect(await after.entryOf("rotated@example.com")).toMatchObject({ reason: "added before the rotation" });
    await h.redis.set(`${prefix}:suppressed:${after.idOf("rotated@example.com")}`, "{}");
    expect(await after.entryOf("rotated@example.com")).toMatchObject({ reason: "added before the rotation" });
    expect(await before.entryOf("nobody@example.com")).toBeUndefined();
  });

  it("a policy refusal (550 5.7.1) is permanent but does not suppress; the classifier's rules", async () => {
    smtp.rejectRecipient("strict@example.com", { code: 550, message: "5.7.1 message refused by policy" });
    const dead = h.nextDeadLetter();
    await h.herald.emailVerification(job("strict@example.com"));
    expect((await dead).failureClass).toBe("permanent");
    expect(await list.check("strict@example.com")).toBeUndefined();
    expect(isHardBounce(550, "550 5.1.1 no such user")).toBe(true);
    expect(isHardBounce(553, "553 mailbox name not allowed")).toBe(true);
    expect(isHardBounce(550, "550 5.1.8 bad sender's system address")).toBe(false);
    expect(isHardBounce(554, "554 5.1.2 no such domain")).toBe(true);
    expect(isHardBounce(552, "552 5.2.2 mailbox full")).toBe(false);
    // Only the status right after the reply code counts, not an address later in the text.
    expect(isHardBounce(550, "550 5.7.1 Service unavailable; client [10.5.1.20] blocked")).toBe(false);
    expect(isHardBounce(550, "Can't send mail - all recipients were rejected: 550 5.1.10 null MX")).toBe(true);
    expect(isHardBounce(550, "550-5.1.1 The email account that you tried to reach does not exist")).toBe(true);
    expect(classifyTwilioError({ status: 400, code: 30003 })).toEqual({ permanent: true, code: "twilio-30003" });
    expect(classifyTwilioError({ status: 400, code: 21610 })).toMatchObject({ hardBounce: true });
  });

  it("Twilio 21614 (landline) suppresses the number; the next SMS is dead-lettered without a Twilio request", async () => {
    twilio.failFor("+41791234567", { status: 400, code: 21614, message: "'To' number is not a valid mobile number" });
    const bounced = h.nextDeadLetter();
    await h.herald.phoneVerification({ recipient: { userId: "u-2", phone: "+41791234567" }, code: "123456" });
    expect((await bounced).failureClass).toBe("permanent");
    expect(await list.check("+41791234567")).toMatchObject({ code: "twilio-21614", channel: "sms" });
    const requests = twilio.requests.length;
    const suppressed = h.nextDeadLetter();
    await h.herald.phoneVerification({ recipient: { userId: "u-2", phone: "+41791234567" }, code: "123456" });
    expect((await suppressed).failureClass).toBe("suppressed");
    expect(twilio.requests.length).toBe(requests);
  });

  it("admin API: add, look up, list (ids only), remove by id", async () => {
    const added = await h.app.inject({
      method: "POST",
      url: "/v1/suppressions",
      headers: asAdmin,
      payload: { address: "mallory@example.com", reason: "asked to" },
    });
    expect(added.statusCode).toBe(201);
    const { id } = added.json();
    const found = await h.app.inject({ method: "POST", url: "/v1/suppressions/lookup", headers: asAdmin, payload: { address: "mallory@example.com" } });
    expect(found.json()).toMatchObject({ suppressed: true, id, source: "admin", reason: "asked to" });
    const all = await h.app.inject({ method: "GET", url: "/v1/suppressions", headers: asAdmin });
    expect(all.json().items.map((i: { id: string }) => i.id)).toContain(id);
    expect(all.body).not.toContain("mallory");
    const bad = await h.app.inject({ method: "POST", url: "/v1/suppressions/remove", headers: asAdmin, payload: {} });
    expect(bad.statusCode).toBe(400);
    const removed = await h.app.inject({ method: "POST", url: "/v1/suppressions/remove", headers: asAdmin, payload: { id } });
    expect(removed.json()).toEqual({ removed: true });
  });

  it("the CLI adds, shows, lists and removes", async () => {
    const env = h.env;
    const add = await runCli(["suppressions", "add", "trent@example.com", "--reason", "spam trap"], env);
    expect(add.code, add.stderr).toBe(0);
    const show = await runCli(["suppressions", "show", "trent@example.com", "--json"], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ suppressed: true, source: "admin", reason: "spam trap" });
    const remove = await runCli(["suppressions", "remove", "trent@example.com"], env);
    expect(remove.code, remove.stderr).toBe(0);
    expect(await list.check("trent@example.com")).toBeUndefined();
  }, 90_000);
});
