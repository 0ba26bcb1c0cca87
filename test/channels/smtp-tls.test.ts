import { afterEach, describe, expect, it } from "vitest";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";

const job = { recipient: { userId: "u", email: "tls@example.com" }, code: "TLS-1", url: "https://x.test/v" };

// The test SMTP server offers no STARTTLS (like a misconfigured relay, or one an attacker strips it from).
describe("SMTP_REQUIRE_TLS and the start-up check", { timeout: 60_000 }, () => {
  let smtp: SmtpTestServer | undefined;
  let h: TestHerald | undefined;
  afterEach(async () => {
    await h?.close();
    await smtp?.close();
    h = smtp = undefined;
  });

  it("with SMTP_REQUIRE_TLS on (the default outside development) nothing is sent in clear text, and the start-up check says why", async () => {
    smtp = await startSmtpServer();
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Herald <no-reply@herald.test>", SMTP_REQUIRE_TLS: undefined });
    expect(h.config.smtpRequireTls).toBe(true);
    const check = h.workers.providerChecks.email!;
    await expect.poll(() => check.state, { timeout: 20_000 }).toBe("failed");
    expect(check.detail).toMatch(/STARTTLS/i);

    const retried = new Promise<Error>((resolve) => h!.workers.events.once("retrying", (_job, error) => resolve(error)));
    await h.herald.emailVerification(job);
    expect((await retried).message).toMatch(/STARTTLS/i);
    expect(smtp.attempts).toBe(0);
    expect(smtp.mails).toEqual([]);
  });

  it("with SMTP_REQUIRE_TLS=0 the same server gets the mail, and the check passes", async () => {
    smtp = await startSmtpServer();
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Herald <no-reply@herald.test>", SMTP_REQUIRE_TLS: "0" });
    await expect.poll(() => h!.workers.providerChecks.email!.state, { timeout: 20_000 }).toBe("ok");
    await h.herald.emailVerification(job);
    const mail = (await smtp.waitForMails(1))[0]!;
    expect(mail.parsed.from?.text).toBe('"Herald" <no-reply@herald.test>');
  });

  it("a relay that is down at start is a failed check, not a failed start", async () => {
    smtp = await startSmtpServer();
    const url = smtp.url;
    await smtp.close();
    smtp = undefined;
    h = await startTestHerald({ SMTP_URL: url, SMTP_FROM: "Herald <no-reply@herald.test>" });
    expect(h.workers.workers.every((w) => w.isRunning())).toBe(true);
    await expect.poll(() => h!.workers.providerChecks.email!.state, { timeout: 20_000 }).toBe("failed");
    expect(h.workers.providerChecks.email!.detail).toMatch(/ECONNREFUSED/);
  });
});
