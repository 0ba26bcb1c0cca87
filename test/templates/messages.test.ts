import { beforeAll, describe, expect, it } from "vitest";
import { KIND_NAMES, kindDefinition, parseJob, type KindName } from "../../src/contracts/index.js";
import { formatValidity } from "../../src/templates/locale.js";
import { compileText, loadCatalog } from "../../src/templates/messages.js";
import { createRenderer, type Renderer } from "../../src/templates/renderer.js";
import { smsSegments } from "../../src/templates/sms-segments.js";

const catalog = loadCatalog();
const locales = [...catalog.keys()].sort();
const en = catalog.get("en")!;

const REQUIRED_LOCALES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "ja", "zh", "ar"];
// Worst cases for length: the longest codes and product names Herald expects in an SMS.
const CODE = "12345678";
const PRODUCT = "ABCDEFGHIJKLMNOPQRST";
const NOW = Date.parse("2030-01-15T10:00:00Z");
const inMinutes = (m: number) => new Date(NOW + m * 60_000).toISOString();

/** `{{#if name}}` → "#if name", `{{ code }}` → "code", `{{{x}}}` → "{x}": every mustache, normalised. */
function tokens(source: string): string[] {
  return [...source.matchAll(/\{\{(\{?)~?\s*([^}]*?)\s*~?\}?\}\}/g)].map((m) => m[1]! + m[2]!.replace(/\s+/g, " "));
}

/** Everything a translator wrote, placeholders taken out. */
const prose = (source: string) => source.replace(/\{\{[^}]*\}\}\}?/g, " ");

function* texts(locale: string) {
  for (const [section, set] of Object.entries(catalog.get(locale)!)) {
    for (const [key, source] of Object.entries(set)) yield { section, key, source, where: `${locale}.json ${section}.${key}` };
  }
}

const shape = (messages: Record<string, Record<string, string>>) =>
  Object.fromEntries(
    Object.entries(messages)
      .map(([section, set]) => [section, Object.keys(set).sort()])
      .sort(),
  );

describe("message catalog", () => {
  it("has every locale Herald ships", () => {
    expect(locales).toEqual(expect.arrayContaining(REQUIRED_LOCALES));
  });

  it("English has a section per kind with exactly the text keys its contract declares, plus common", () => {
    expect(Object.keys(en).sort()).toEqual(["common", ...KIND_NAMES].sort());
    for (const kind of KIND_NAMES) expect(Object.keys(en[kind]!).sort(), kind).toEqual([...kindDefinition(kind).textKeys].sort());
  });

  it.each(locales)("%s has exactly English's sections and keys", (locale) => {
    expect(shape(catalog.get(locale)!)).toEqual(shape(en));
  });

  it.each(locales)("%s keeps English's placeholders and blocks and adds none", (locale) => {
    for (const { section, key, source, where } of texts(locale)) {
      const own = new Set(tokens(source));
      const english = new Set(tokens(en[section]?.[key] ?? ""));
      expect(
        [...own].filter((t) => !english.has(t)),
        `${where} uses what English lacks`,
      ).toEqual([]);
      expect(
        [...english].filter((t) => !own.has(t)),
        `${where} drops what English has`,
      ).toEqual([]);
    }
  });

  it.each(locales)("%s compiles and renders every text", (locale) => {
    for (const { source, where } of texts(locale)) {
      const template = compileText(source, where);
      const full = {
        name: "Ada",
        productName: PRODUCT,
        code: CODE,
        expiry: "1 hour",
        passwordSet: true,
        time: "March 2, 2026 at 10:00 AM GMT+1",
        inviter: "Grace Hopper",
        newEmail: "a***@example.com",
        added: true,
        factor: "Passkey",
      };
      for (const vars of [{}, full, { ...full, added: false, passwordSet: false }]) {
        const out = template(vars);
        expect(out, where).not.toMatch(/\{\{|\}\}/);
        expect(out.trim(), where).not.toBe("");
      }
    }
  });

  it.each(locales.filter((l) => l !== "en"))("%s is translated: no text is English's word for word", (locale) => {
    for (const { section, key, source, where } of texts(locale)) {
      if (!/\p{L}/u.test(prose(source))) continue; // nothing to translate, e.g. a text that is only placeholders
      expect(source, where).not.toBe(en[section]![key]);
    }
  });
});

describe("rendered texts in every locale", () => {
  let renderer: Renderer;
  beforeAll(async () => {
    renderer = await createRenderer();
  });

  // Every validity an SMS code realistically has, one of each wording formatValidity produces: 1–119 minutes,
  // then 1–47 hours; so "59 minutes" and the longer "100 minutes" / "22 godziny" / "47 heures" (French hours and days
  // carry a no-break space, which is not GSM-7). Days are left out: no SMS code should live that long, and with
  // "2 días" (í is not GSM-7) the Spanish password-reset SMS would turn UCS-2 and take two segments.
  const VALIDITIES = [...Array.from({ length: 119 }, (_, i) => i + 1), ...Array.from({ length: 47 }, (_, i) => (i + 1) * 60)];
  const SMS_KINDS = [
    { kind: "phone-verification" as const, extra: {} },
    { kind: "password-reset" as const, extra: { channel: "sms" } },
    { kind: "otp-sms" as const, extra: {} },
  ];

  it("are in the locale asked for", () => {
    expect(renderer.locales).toEqual(expect.arrayContaining(REQUIRED_LOCALES));
  });

  describe.each(locales)("%s", (locale) => {
    it.each(SMS_KINDS)("$kind SMS fits one segment with an 8-digit code, a 20-character product and any validity", ({ kind, extra }) => {
      for (const minutes of [undefined, ...VALIDITIES]) {
        const job = parseJob(kind, {
          recipient: { userId: "u", phone: "+41791234567", locale },
          code: CODE,
          tenant: { branding: { productName: PRODUCT } },
          ...(minutes === undefined ? {} : { expiresAt: inMinutes(minutes) }),
          ...extra,
        });
        const sms = renderer.sms({ kind, job, now: NOW });
        expect(sms.locale).toBe(locale);
        expect(sms.body).toContain(CODE);
        expect(sms.body).toContain(PRODUCT);
        // the renderer turns Intl's no-break spaces into plain ones (they would force UCS-2)
        expect(sms.body).toContain((formatValidity(job.expiresAt, locale, NOW) ?? "").replace(/[\u00a0\u202f]/g, " "));
        const count = smsSegments(sms.body);
        expect(count.segments, `${count.encoding} ${count.units}: ${sms.body}`).toBe(1);
      }
    });

    const emails: { kind: KindName; label: string; job: Record<string, unknown> }[] = [
      { kind: "resend-initialization", label: "resend-initialization (password set)", job: { passwordSet: true, url: "https://login.example.test/init" } },
      { kind: "resend-initialization", label: "resend-initialization (no password)", job: { passwordSet: false, url: "https://login.example.test/init" } },
      { kind: "email-verification", label: "email-verification", job: { url: "https://login.example.test/verify" } },
      { kind: "password-reset", label: "password-reset", job: { url: "https://login.example.test/reset" } },
      { kind: "passkey-link", label: "passkey-link", job: { codeId: "cid", url: "https://login.example.test/passkey" } },
      { kind: "otp-email", label: "otp-email", job: { url: "https://login.example.test/login" } },
      { kind: "invite-user", label: "invite-user", job: { inviter: { displayName: "Grace Hopper" }, url: "https://login.example.test/invite" } },
      ...(["password-changed", "email-changed"] as const).map((kind) => ({
        kind,
        label: kind,
        job: { url: "https://login.example.test/secure", occurredAt: inMinutes(-3) },
      })),
      ...(["added", "removed"] as const).map((change) => ({
        kind: "mfa-changed" as const,
        label: `mfa-changed (${change})`,
        job: { url: "https://login.example.test/secure", occurredAt: inMinutes(-3), factor: "u2f", change },
      })),
    ];
    // Security notices carry no code and no expiry; every other kind gets both.
    const codeFields = (kind: KindName) => (kindDefinition(kind).textKeys.includes("notYou") ? {} : { code: CODE, expiresAt: inMinutes(59) });

    it.each(emails)("$label email renders in the locale with a subject of at most 78 characters", ({ kind, job: extra }) => {
      for (const firstName of ["Ada", undefined]) {
        const job = parseJob(kind, {
          recipient: { userId: "u", email: "ada@example.com", locale, ...(firstName ? { firstName } : {}) },
          tenant: { branding: { productName: PRODUCT } },
          ...codeFields(kind),
          ...extra,
        });
        const mail = renderer.email({ kind, job, link: String(extra.url), now: NOW });
        expect(mail.locale).toBe(locale);
        expect(mail.subject.trim()).not.toBe("");
        expect([...mail.subject].length, mail.subject).toBeLessThanOrEqual(78);
        expect(mail.subject).toContain(PRODUCT);
        expect(mail.html).not.toMatch(/\{\{|\}\}/);
        expect(mail.text).not.toMatch(/\{\{|\}\}/);
        expect(mail.html).toContain(`lang="${locale}"`);
        if (locale === "ar") expect(mail.html).toContain('dir="rtl"');
        else expect(mail.html).not.toContain('dir="rtl"');
      }
    });
  });
});
