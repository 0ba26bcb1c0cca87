import type { AddressInfo } from "node:net";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { ADMIN_TOKEN, asEnqueue, startApiHarness, type ApiHarness } from "../support/harness.js";

const board = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` };

describe("Bull Board's API never re-sends a delivered notification", () => {
  let smtp: SmtpTestServer;
  let h: ApiHarness;
  let base: string;
  let email: Queue;
  const ids: string[] = [];

  beforeAll(async () => {
    smtp = await startSmtpServer();
    h = await startApiHarness({ env: { SMTP_URL: smtp.url, SMTP_FROM: "Acme ID <no-reply@acme.test>" } });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/admin/queues/api/queues`;
    email = new Queue("email", { connection: h.redis, prefix: h.config.HERALD_PREFIX });
    for (const code of ["RETRYCODE1", "RETRYCODE2"]) {
      const delivered = h.nextDelivery();
      const res = await h.app.inject({
        method: "POST",
        url: "/v1/notifications/email-verification",
        headers: asEnqueue,
        payload: { recipient: { userId: "u-r", email: "retry@example.com" }, code, url: `https://login.acme.test/v?c=${code}` },
      });
      expect(res.statusCode).toBe(202);
      ids.push(res.json().id);
      await delivered;
    }
    await smtp.waitForMails(2);
  });

  afterAll(async () => {
    await email?.close();
    await h?.close();
    await smtp?.close();
  });

  it("refuses to retry one completed job (409) and leaves it completed", async () => {
    const res = await fetch(`${base}/email/${ids[0]}/retry`, { method: "PUT", headers: board });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("completed job");
    expect(await email.getJobState(ids[0]!)).toBe("completed");
  });

  it("refuses to retry every completed job (409), but the failed ones may still be retried", async () => {
    const res = await fetch(`${base}/email/retry/completed`, { method: "PUT", headers: board });
    expect(res.status).toBe(409);
    const failed = await fetch(`${base}/email/retry/failed`, { method: "PUT", headers: board });
    expect(failed.status).toBe(200);
    expect(await failed.json()).toMatchObject({ retried: 0 });
  });

  it("refuses any retry on the dead-letter queue (405: nothing works it)", async () => {
    const res = await fetch(`${base}/dead-letter/retry/failed`, { method: "PUT", headers: board });
    expect(res.status).toBe(405);
  });

  it("sent nothing again: a later notification is the only new mail, each code arrived once", async () => {
    const delivered = h.nextDelivery();
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: { recipient: { userId: "u-r", email: "retry@example.com" }, code: "RETRYCODE3", url: "https://login.acme.test/v?c=RETRYCODE3" },
    });
    expect(res.statusCode).toBe(202);
    await delivered;
    await smtp.waitForMails(3);
    expect(smtp.mails).toHaveLength(3);
    const texts = smtp.mails.map((m) => m.parsed.text ?? "");
    for (const code of ["RETRYCODE1", "RETRYCODE2", "RETRYCODE3"]) expect(texts.filter((t) => t.includes(code))).toHaveLength(1);
    expect(await email.getJobCounts("waiting", "active", "delayed", "completed")).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 3 });
    for (const id of ids) expect((await email.getJob(id))?.attemptsMade).toBe(1);
  });
});
