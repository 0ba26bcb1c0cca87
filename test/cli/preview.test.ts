import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const LINK = "https://login.acme.example/ui/password/reset?userID=user-4711&code=581634";

// Each preview is a fresh Node process that compiles the MJML templates (a second or two, more on a busy
// machine): generous time limits, and independent runs side by side.
describe("herald preview", { timeout: 120_000 }, () => {
  // A TCP server standing in for Redis that counts who connects: a preview must never open a connection.
  let fakeRedis: Server;
  let connections = 0;
  let env: Record<string, string>;
  const work = mkdtempSync(join(tmpdir(), "herald-preview-"));

  beforeAll(async () => {
    fakeRedis = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((done) => fakeRedis.listen(0, "127.0.0.1", done));
    env = {
      REDIS_URL: `redis://127.0.0.1:${(fakeRedis.address() as AddressInfo).port}`,
      LOG_LEVEL: "silent",
      HERALD_DATA_DIR: join(work, "data"),
      HERALD_OUTBOX_DIR: join(work, "outbox"),
    };
  });
  afterAll(async () => {
    await new Promise((done) => fakeRedis?.close(done));
    rmSync(work, { recursive: true, force: true });
  });

  const preview = (args: string[], extraEnv: Record<string, string> = {}, stdin?: string) => runCli(["preview", ...args], { ...env, ...extraEnv }, stdin);

  it("html (the default for a mail): the code, the sample's names, lang and dir; Arabic right to left", async () => {
    const [de, ar] = await Promise.all([preview(["email-verification", "--locale", "de"]), preview(["password-reset", "--locale", "ar"])]);
    expect(de.code, de.stderr).toBe(0);
    expect(de.stdout).toMatch(/^<!doctype html>/i);
    expect(de.stdout).toMatch(/<html lang="de" dir="ltr"/);
    expect(de.stdout).toContain("482915");
    expect(de.stdout).toContain("Hallo Ada");
    expect(de.stdout).toContain("Acme ID");
    expect(de.stderr).toContain("locale: de");
    expect(de.stderr).toContain("subject: Bestätigen Sie Ihre E-Mail-Adresse für Acme ID");

    expect(ar.code, ar.stderr).toBe(0);
    expect(ar.stdout).toMatch(/<html lang="ar" dir="rtl"/);
    expect(ar.stdout).toContain("581634");
    expect(ar.stdout).toContain("إعادة تعيين كلمة المرور");
    expect(ar.stderr).toContain("locale: ar");
  });

  it("the new kinds: a notice's time in the recipient's zone from --data, and the OTP SMS in one segment", async () => {
    const notice = { recipient: { userId: "u", email: "ada@example.com", locale: "sv", timeZone: "America/New_York" }, occurredAt: "2026-03-02T09:00:00Z" };
    const [changed, otp] = await Promise.all([
      preview(["password-changed", "--format", "text", "--data", JSON.stringify(notice)]),
      preview(["otp-sms", "--locale", "ja"]),
    ]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain("ändrades den 2 mars 2026 kl. 04:00 GMT−5");
    expect(changed.stderr).toContain("subject: Ditt lösenord för Herald har ändrats");
    expect(otp.code, otp.stderr).toBe(0);
    expect(otp.stdout).toContain("904512 は Acme ID のログインコードです。");
    expect(otp.stderr).toMatch(/1 segment, UCS-2/);
  });

  it("text: the plain part with the link and the code", async () => {
    const result = await preview(["password-reset", "--format", "text"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(LINK);
    expect(result.stdout).toContain("581634");
    expect(result.stdout).toContain("Hello Ada,");
    expect(result.stdout).toContain("This code is valid for 1 hour.");
    expect(result.stdout).not.toMatch(/<[a-z]/i);
  });

  it("eml: the complete RFC 5322 message, with SMTP_FROM or Herald's default sender", async () => {
    const [plain, configured] = await Promise.all([
      preview(["email-verification", "--format", "eml"]),
      preview(["password-reset", "--format", "eml", "--locale", "fr"], { SMTP_FROM: "Acme ID <id@acme.example>" }),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    // SMTP's line ends, as it goes on the wire
    expect(plain.stdout).toContain("\r\n\r\n");
    expect(plain.stdout).not.toMatch(/[^\r]\n/);
    const mail = await simpleParser(Buffer.from(plain.stdout, "utf8"));
    expect(mail.from?.text).toBe('"Herald" <no-reply@localhost>');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : "").toBe('"Ada Lovelace" <ada.lovelace@example.com>');
    expect(mail.subject).toBe("Verify your email address for Acme ID");
    expect(mail.messageId).toMatch(/^<[^@\s]+@localhost>$/);
    expect(Math.abs(mail.date!.getTime() - Date.now())).toBeLessThan(120_000);
    expect(mail.headers.get("mime-version")).toBe("1.0");
    expect((mail.headers.get("content-type") as { value: string }).value).toBe("multipart/alternative");
    expect(mail.headers.get("auto-submitted")).toBe("auto-generated");
    expect(mail.html).toContain("482915");
    expect(mail.text).toContain("https://login.acme.example/ui/verify-email?userID=user-4711&code=482915");

    expect(configured.code, configured.stderr).toBe(0);
    const reset = await simpleParser(Buffer.from(configured.stdout, "utf8"));
    expect(reset.from?.text).toBe('"Acme ID" <id@acme.example>');
    expect(reset.messageId).toMatch(/@acme\.example>$/);
    expect(reset.subject).toBe("Réinitialisez votre mot de passe Acme ID");
    expect(reset.text).toContain(LINK);
  });

  it("sms: the text on stdout, its segments and encoding on stderr; the default for phone-verification", async () => {
    const [phone, reset, arabic] = await Promise.all([
      preview(["phone-verification"]),
      preview(["password-reset", "--format", "sms", "--locale", "de"]),
      preview(["phone-verification", "--format", "sms", "--locale", "ar"]),
    ]);
    expect(phone.code, phone.stderr).toBe(0);
    expect(phone.stdout).toBe("739204 is your Acme ID verification code. Valid for 1 hour.\n");
    expect(phone.stderr).toMatch(/^1 segment, GSM-7, 59 of 160 septets$/m);

    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain("581634");
    expect(reset.stdout).toContain("Zurücksetzen");
    expect(reset.stderr).toContain("1 segment, GSM-7");

    expect(arabic.code, arabic.stderr).toBe(0);
    expect(arabic.stdout).toContain("739204");
    expect(arabic.stderr).toMatch(/1 segment, UCS-2, \d+ of 70 UTF-16 units/);
  });

  it("a job given with --data or --data-file is validated like send and rendered; --locale and --tenant override it", async () => {
    const job = {
      recipient: { userId: "u-77", email: "grace@example.org", firstName: "Grace", locale: "de" },
      code: "OWN-CODE-9",
      urlTemplate: "https://id.example.org/reset?u={{userId}}&c={{code}}&t={{tenantId}}",
    };
    const [fromFile, inline] = await Promise.all([
      preview(["password-reset", "--data-file", "-", "--format", "text", "--locale", "fr", "--tenant", "t-9"], {}, JSON.stringify(job)),
      preview(["password-reset", "--data", JSON.stringify({ ...job, channel: "sms", recipient: { ...job.recipient, phone: "+41791234567" } })]),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain("Bonjour Grace,");
    expect(fromFile.stdout).toContain("OWN-CODE-9");
    expect(fromFile.stdout).toContain("https://id.example.org/reset?u=u-77&c=OWN-CODE-9&t=t-9");
    expect(fromFile.stderr).toContain("locale: fr");
    // A job for the SMS channel previews as an SMS without being told.
    expect(inline.code, inline.stderr).toBe(0);
    expect(inline.stdout).toContain("OWN-CODE-9");
    expect(inline.stdout).toContain("Passwort");
    expect(inline.stderr).toContain("1 segment");
  });

  it("bad --data exits 2 and names every bad field, as send does; so do broken JSON, an unknown kind and a bad --locale", async () => {
    const [bad, broken, unknown, locale] = await Promise.all([
      preview(["email-verification", "--data", JSON.stringify({ recipient: { userId: "u", email: "not-an-address" }, code: "1", expiresAt: "tomorrow" })]),
      preview(["email-verification", "--data", "{nope"]),
      preview(["newsletter"]),
      preview(["password-reset", "--locale", "not a tag"]),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("error: invalid email-verification job:");
    expect(bad.stderr).toContain("recipient.email: must be a valid email address");
    expect(bad.stderr).toContain("expiresAt: must be an ISO 8601 time with zone");
    expect(bad.stderr).toContain("url: is required (or give urlTemplate)");
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid JSON/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/kind: is unknown; expected one of resend-initialization/);
    expect(locale.code).toBe(2);
    expect(locale.stderr).toContain("--locale not a tag is not a BCP 47 language tag");
  });

  it("refuses a format the kind or job has no channel for, and an unknown format", async () => {
    const [smsOnly, emailOnly, jobBySms, pdf] = await Promise.all([
      preview(["phone-verification", "--format", "html"]),
      preview(["resend-initialization", "--format", "sms"]),
      preview([
        "password-reset",
        "--format",
        "eml",
        "--data",
        JSON.stringify({ recipient: { userId: "u", phone: "+41791234567" }, code: "1", channel: "sms" }),
      ]),
      preview(["password-reset", "--format", "pdf"]),
    ]);
    expect(smsOnly.code).toBe(2);
    expect(smsOnly.stderr).toContain("phone-verification is sent by SMS only: use --format sms");
    expect(emailOnly.code).toBe(2);
    expect(emailOnly.stderr).toContain("resend-initialization is sent by email only: use --format html, text, eml");
    expect(jobBySms.code).toBe(2);
    expect(jobBySms.stderr).toContain('this password-reset job goes by SMS (channel "sms"): use --format sms');
    expect(pdf.code).not.toBe(0);
    expect(pdf.stderr).toContain("Allowed choices are html, text, eml, sms");
    for (const r of [smsOnly, emailOnly, jobBySms, pdf]) expect(r.stdout).toBe("");
  });

  it("--out writes the file (the .eml as bytes) and leaves stdout empty", async () => {
    const eml = join(work, "reset.eml");
    const html = join(work, "passkey.html");
    const [a, b] = await Promise.all([
      preview(["password-reset", "--format", "eml", "--out", eml]),
      preview(["passkey-link", "--locale", "ar", "--out", html]),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe("");
    expect(a.stderr).toMatch(new RegExp(`wrote ${eml} \\(\\d+ bytes\\)`));
    const mail = await simpleParser(readFileSync(eml));
    expect(mail.subject).toBe("Reset your Acme ID password");
    expect(mail.text).toContain(LINK);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe("");
    expect(readFileSync(html, "utf8")).toMatch(/<html lang="ar" dir="rtl"/);
  });

  it("--tenant shows that tenant's settings from HERALD_TENANTS_FILE: branding, sender, default locale", async () => {
    const tenants = join(work, "tenants.yaml");
    writeFileSync(
      tenants,
      [
        "tenants:",
        "  globex:",
        "    from: Globex Login <login@globex.example>",
        "    defaultLocale: de",
        "    branding:",
        "      productName: Globex Login",
        '      primaryColor: "#aa0000"',
        "",
      ].join("\n"),
    );
    const result = await preview(["password-reset", "--tenant", "globex", "--format", "eml"], { HERALD_TENANTS_FILE: tenants });
    expect(result.code, result.stderr).toBe(0);
    const mail = await simpleParser(Buffer.from(result.stdout, "utf8"));
    expect(mail.from?.text).toBe('"Globex Login" <login@globex.example>');
    expect(mail.subject).toContain("Globex Login");
    expect(result.stderr).toContain("locale: de");
    expect(mail.html).toContain("#aa0000");
    expect(mail.text).toContain("Hallo Ada,");
  });

  it("a tenant the file does not have is reported: --tenant is a usage error, a job's tenant.id a warning", async () => {
    const tenants = join(work, "tenants-2.yaml");
    writeFileSync(tenants, ["tenants:", "  globex:", "    branding: { productName: Globex Login }", "  initech: {}", ""].join("\n"));
    const job = { recipient: { userId: "u", email: "ada@example.com" }, code: "T1", url: "https://x.example/r", tenant: { id: "globx" } };
    const [typo, data, noFile] = await Promise.all([
      preview(["password-reset", "--tenant", "nosuch"], { HERALD_TENANTS_FILE: tenants }),
      preview(["password-reset", "--data", JSON.stringify(job), "--format", "text"], { HERALD_TENANTS_FILE: tenants }),
      preview(["password-reset", "--tenant", "nosuch", "--format", "text"]),
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toBe(`error: --tenant nosuch: ${tenants} has no such tenant (it has globex, initech)\n`);
    expect(data.code, data.stderr).toBe(0);
    expect(data.stderr).toContain(`warning: tenant globx is not in ${tenants}: rendered with the default branding and texts`);
    expect(noFile.code, noFile.stderr).toBe(0);
    expect(noFile.stderr).toContain("warning: HERALD_TENANTS_FILE is not set: tenant nosuch has no settings");
  });

  it("HERALD_PRODUCT_NAME is the product name of jobs that name none", async () => {
    const job = { recipient: { userId: "u", phone: "+41791234567" }, code: "123456" };
    const [named, plain] = await Promise.all([
      preview(["phone-verification", "--data", JSON.stringify(job)], { HERALD_PRODUCT_NAME: "Acme Login" }),
      preview(["phone-verification", "--data", JSON.stringify(job)]),
    ]);
    expect(named.stdout).toContain("123456 is your Acme Login verification code.");
    expect(plain.stdout).toContain("123456 is your Herald verification code.");
  });

  it("configuration errors exit 1 and say what is wrong", async () => {
    const [redisUrl, tenantsFile] = await Promise.all([
      preview(["password-reset"], { REDIS_URL: "http://localhost:6379" }),
      preview(["password-reset"], { HERALD_TENANTS_FILE: join(work, "no-such-tenants.yaml") }),
    ]);
    expect(redisUrl.code).toBe(1);
    expect(redisUrl.stderr).toContain("REDIS_URL must be a URL with scheme redis or rediss");
    expect(tenantsFile.code).toBe(1);
    expect(tenantsFile.stderr).toContain("no-such-tenants.yaml");
    expect(redisUrl.stdout + tenantsFile.stdout).toBe("");
  });

  it("needs no Redis: works with REDIS_URL pointing nowhere, and never connects to it", async () => {
    const before = connections;
    const nowhere = { REDIS_URL: "redis://127.0.0.1:1" };
    const results = await Promise.all([preview(["password-reset", "--format", "eml"], nowhere), preview(["phone-verification"], nowhere)]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(results[1].stdout).toContain("739204");
    // Every run in this file so far, and these, pointed REDIS_URL at the counting server or at port 1.
    expect(connections).toBe(before);
    expect(connections).toBe(0);
    // Nor does a preview write anything where Herald keeps data or its outbox.
    expect(readdirSync(work).filter((f) => f === "data" || f === "outbox")).toEqual([]);
  });
});
