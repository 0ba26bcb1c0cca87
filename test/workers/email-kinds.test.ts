import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { decodeEntities, hrefs } from "../support/html.js";

const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe("email kinds end to end: SDK → Redis → worker → MJML → SMTP", () => {
  let smtp: SmtpTestServer;
  let h: TestHerald;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme ID <no-reply@acme.test>" });
  });
  afterAll(async () => {
    await h?.close();
    await smtp?.close();
  });

  const cases = [
    {
      kind: "resend-initialization" as const,
      job: {
        recipient: { userId: "u1", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
        code: "INIT4242",
        passwordSet: false,
        urlTemplate: "https://login.acme.test/init?code={{code}}&userId={{userId}}&org={{tenantId}}",
        tenant: { id: "acme", branding: { primaryColor: "#123abc" } },
      },
      subject: /Einrichtung/,
      link: "https://login.acme.test/init?code=INIT4242&userId=u1&org=acme",
      code: "INIT4242",
    },
    {
      kind: "email-verification" as const,
      job: {
        recipient: { userId: "u2", email: "bob@example.com", locale: "en" },
        code: "VER123",
        url: "https://login.acme.test/verify?c=VER123",
        tenant: { branding: { primaryColor: "#aa0011" } },
      },
      subject: /^Verify your email address/,
      link: "https://login.acme.test/verify?c=VER123",
      code: "VER123",
      color: "#aa0011",
    },
    {
      kind: "password-reset" as const,
      job: {
        recipient: { userId: "u3", email: "cy@example.com", locale: "de" },
        code: "RST777",
        urlTemplate: "https://login.acme.test/reset?code={{code}}&user={{userId}}",
        expiresAt: inOneHour(),
        tenant: { branding: { primaryColor: "#00aa55" } },
      },
      subject: /Passwort/,
      link: "https://login.acme.test/reset?code=RST777&user=u3",
      code: "RST777",
      color: "#00aa55",
    },
    {
      kind: "passkey-link" as const,
      job: {
        recipient: { userId: "u4", email: "dee@example.com", locale: "fr-CA" },
        code: "PK-secret",
        codeId: "cid-9",
        urlTemplate: "https://login.acme.test/passkey?id={{codeId}}&code={{code}}",
        tenant: { branding: { primaryColor: "#654321" } },
      },
      subject: /^Ajoutez une clé d'accès/, // fr-CA → fr
      link: "https://login.acme.test/passkey?id=cid-9&code=PK-secret",
      code: undefined,
      color: "#654321",
    },
    {
      kind: "otp-email" as const,
      job: {
        recipient: { userId: "u5", email: "eve@example.com", locale: "es" },
        code: "318274",
        url: "https://login.acme.test/otp?u=u5",
        expiresAt: inOneHour(),
        tenant: { branding: { primaryColor: "#117733", productName: "Acme ID" } },
      },
      subject: /^Su código de acceso a Acme ID$/,
      link: "https://login.acme.test/otp?u=u5",
      code: "318274",
      color: "#117733",
    },
    {
      kind: "invite-user" as const,
      job: {
        recipient: { userId: "u6", email: "finn@example.com", locale: "nl" },
        inviter: { displayName: "Grace Hopper" },
        code: "INV-5521",
        urlTemplate: "https://login.acme.test/invite?code={{code}}&org={{tenantId}}",
        tenant: { id: "acme", branding: { primaryColor: "#335577", productName: "Acme ID" } },
      },
      subject: /^Uitnodiging voor Acme ID$/,
      link: "https://login.acme.test/invite?code=INV-5521&org=acme",
      code: undefined,
      color: "#335577",
    },
  ];

  for (const c of cases) {
    it(`${c.kind}: right recipient, language, link and code in both parts, branding applied`, async () => {
      const before = smtp.mails.length;
      const { id, channel } = await h.herald.enqueue(c.kind, c.job as never);
      expect(channel).toBe("email");
      const delivered = await h.nextDelivery();
      expect(delivered.job.id).toBe(id);
      const mail = (await smtp.waitForMails(before + 1))[before]!;
      expect(mail.envelope.to).toEqual([c.job.recipient.email]);
      expect(mail.parsed.subject).toMatch(c.subject);
      expect(mail.parsed.from?.text).toBe('"Acme ID" <no-reply@acme.test>');
      const html = String(mail.parsed.html);
      const text = String(mail.parsed.text);
      expect(hrefs(html)).toContain(c.link);
      expect(text).toContain(c.link);
      if (c.code) {
        expect(html).toContain(c.code);
        expect(text).toContain(c.code);
      } else {
        // A kind that shows no code carries it inside its link only: every occurrence is the link's.
        const secret = c.job.code;
        expect(text.split(secret).length - 1).toBe(text.split(c.link).length - 1);
        expect(text.split(c.link).length - 1).toBeGreaterThan(0);
      }
      expect(html.toLowerCase()).toContain(c.job.tenant.branding.primaryColor);
      expect(mail.parsed.messageId).toMatch(/@acme\.test>$/);
      expect(mail.parsed.date).toBeInstanceOf(Date);
      expect(mail.parsed.headers.get("auto-submitted")).toBe("auto-generated");
      expect(delivered.result).toMatchObject({ channel: "email", provider: "smtp", kind: c.kind });
      expect(delivered.result.messageId).toBe(mail.parsed.messageId);
    });
  }

  // Security notices: no code anywhere, the time of the change in the recipient's zone and language.
  const notices = [
    {
      kind: "password-changed" as const,
      job: {
        recipient: { userId: "n1", email: "gus@example.com", locale: "it", timeZone: "Europe/Rome" },
        occurredAt: "2026-03-02T09:00:00Z",
        urlTemplate: "https://login.acme.test/secure?u={{userId}}",
      },
      subject: "La password di Acme ID è stata modificata",
      time: "il 2 marzo 2026 alle ore 10:00 CET",
      link: "https://login.acme.test/secure?u=n1",
    },
    {
      kind: "email-changed" as const,
      job: {
        recipient: { userId: "n2", email: "old.hal@example.com", locale: "pl", timeZone: "America/New_York" },
        newEmail: "hal@new.example",
        occurredAt: "2026-03-02T09:00:00Z",
      },
      subject: "Adres e-mail w Acme ID został zmieniony",
      time: "2 marca 2026 04:00 GMT-5 na h***@new.example",
      link: undefined,
    },
    {
      kind: "mfa-changed" as const,
      job: {
        recipient: { userId: "n3", email: "ida@example.com", locale: "ja", timeZone: "Asia/Tokyo" },
        factor: "otp-email",
        change: "added",
        occurredAt: "2026-03-02T09:00:00Z",
        url: "https://login.acme.test/secure",
      },
      subject: "Acme ID アカウントにログイン方法が追加されました",
      time: "2026年3月2日 18:00 JST に Acme ID アカウントにログイン方法が追加されました",
      link: "https://login.acme.test/secure",
    },
  ];

  for (const n of notices) {
    it(`${n.kind}: delivered in the recipient's language with the time in their zone, no code, link only when given`, async () => {
      const before = smtp.mails.length;
      const { id, channel } = await h.herald.enqueue(n.kind, { ...n.job, tenant: { name: "Acme ID" } } as never);
      expect(channel).toBe("email");
      const delivered = await h.nextDelivery();
      expect(delivered.job.id).toBe(id);
      const mail = (await smtp.waitForMails(before + 1))[before]!;
      expect(mail.envelope.to).toEqual([n.job.recipient.email]);
      expect(mail.parsed.subject).toBe(n.subject);
      const text = String(mail.parsed.text);
      expect(text).toContain(n.time);
      expect(decodeEntities(String(mail.parsed.html))).toContain(n.time);
      // no code box in the HTML (its monospace font) and no stray placeholder
      expect(String(mail.parsed.html)).not.toContain("SFMono-Regular");
      expect(text).not.toMatch(/\{\{|\}\}/);
      expect([...new Set(hrefs(String(mail.parsed.html)))]).toEqual(n.link ? [n.link] : []);
      expect(delivered.result).toMatchObject({ channel: "email", provider: "smtp", kind: n.kind, locale: n.job.recipient.locale });
    });
  }

  it("a notice without an idempotencyKey is delivered every time it is enqueued; with one, once", async () => {
    const before = smtp.mails.length;
    const notice = { recipient: { userId: "n4", email: "twice@example.com", locale: "en" }, occurredAt: "2026-03-02T09:00:00Z" };
    const first = await h.herald.passwordChanged(notice);
    const second = await h.herald.passwordChanged(notice);
    expect(second.deduplicated).toBe(false);
    expect(second.id).not.toBe(first.id);
    const keyed = { ...notice, recipient: { ...notice.recipient, email: "once@example.com" }, idempotencyKey: "pw-changed-n4-1" };
    const third = await h.herald.passwordChanged(keyed);
    const fourth = await h.herald.passwordChanged(keyed);
    expect(fourth).toMatchObject({ id: third.id, deduplicated: true });
    const delivered = [await h.nextDelivery(), await h.nextDelivery(), await h.nextDelivery()].map((d) => d.job.id);
    expect(delivered.sort()).toEqual([first.id, second.id, third.id].sort());
    const mails = (await smtp.waitForMails(before + 3)).slice(before);
    expect(mails.map((m) => m.envelope.to[0]).sort()).toEqual(["once@example.com", "twice@example.com", "twice@example.com"]);
  });

  it("makes hostile names inert: escaped in HTML, no header injection", async () => {
    const before = smtp.mails.length;
    await h.herald.emailVerification({
      recipient: { userId: "evil", email: "eve@example.com", firstName: "<script>alert(1)</script>", displayName: "Ada\r\nBcc: x@y.test" },
      code: "C0DE99",
      url: "https://login.acme.test/v",
    });
    const mail = (await smtp.waitForMails(before + 1))[before]!;
    expect(mail.envelope.to).toEqual(["eve@example.com"]);
    expect(mail.raw).not.toMatch(/^Bcc:/im);
    expect(mail.parsed.bcc).toBeUndefined();
    expect(String(mail.parsed.html)).not.toContain("<script>alert(1)</script>");
    expect(String(mail.parsed.html)).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(String(mail.parsed.text)).toContain("<script>alert(1)</script>"); // plain text shows it, harmlessly
  });
});
