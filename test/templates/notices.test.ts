import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FACTORS, parseJob, type Factor, type KindName } from "../../src/contracts/index.js";
import { createRenderer, type Renderer } from "../../src/templates/renderer.js";
import { decodeEntities, hrefs } from "../support/html.js";

// The kinds without a code (security notices), the invitation and the optional link of otp-email: what
// each shows, what it must never show, and the time of a change in the recipient's own zone and language.
const NOW = Date.parse("2026-03-02T09:03:00Z");
const OCCURRED = "2026-03-02T09:00:00Z";
const SECURE = "https://login.acme.test/secure?u=u-1";
const recipient = (extra: Record<string, unknown> = {}) => ({ userId: "u-1", email: "ada@example.com", firstName: "Ada", ...extra });
const MONOSPACE = "SFMono-Regular"; // the code box's font: no code box, no such font

const render = (renderer: Renderer, kind: KindName, data: Record<string, unknown>, link?: string) => {
  const mail = renderer.email({ kind, job: parseJob(kind, data), link, now: NOW });
  return { ...mail, shown: decodeEntities(mail.html) };
};

describe("security notices, invitations and OTP mails", () => {
  let renderer: Renderer;
  beforeAll(async () => {
    renderer = await createRenderer();
  });

  it("password-changed tells the time in the recipient's zone and language, and shows no code box", () => {
    const de = render(
      renderer,
      "password-changed",
      { recipient: recipient({ locale: "de-CH", timeZone: "Europe/Zurich" }), occurredAt: OCCURRED, url: SECURE },
      SECURE,
    );
    expect(de.locale).toBe("de");
    expect(de.subject).toBe("Ihr Passwort für Herald wurde geändert");
    expect(de.text).toContain("am 2. März 2026 um 10:00 MEZ geändert");
    expect(de.shown).toContain("am 2. März 2026 um 10:00 MEZ geändert");
    expect(de.html).not.toContain(MONOSPACE);
    expect(hrefs(de.html)).toContain(SECURE);
    expect(de.text).toContain("Mein Konto sichern");

    const tokyo = render(renderer, "password-changed", { recipient: recipient({ locale: "ja", timeZone: "Asia/Tokyo" }), occurredAt: OCCURRED });
    expect(tokyo.text).toContain("2026年3月2日 18:00 JST");
    // Without a zone the time is UTC, and says so.
    const utc = render(renderer, "password-changed", { recipient: recipient({ locale: "en" }), occurredAt: OCCURRED });
    expect(utc.text).toContain("on March 2, 2026 at 9:00 AM UTC");
    const ar = render(renderer, "password-changed", { recipient: recipient({ locale: "ar", timeZone: "Asia/Riyadh" }), occurredAt: OCCURRED });
    expect(ar.html).toContain('dir="rtl"');
    expect(ar.text).toContain("بتاريخ 2 مارس 2026");
  });

  it.each(["password-changed", "email-changed", "mfa-changed"] as const)("%s without a link has no button, no link hint and no empty box", (kind) => {
    const extra = kind === "mfa-changed" ? { factor: "otp-sms", change: "removed" } : {};
    const mail = render(renderer, kind, { recipient: recipient({ locale: "en" }), occurredAt: OCCURRED, ...extra });
    expect(hrefs(mail.html)).toEqual([]);
    expect(mail.text).not.toContain("Secure my account");
    expect(mail.text).not.toContain("If the button does not work");
    expect(mail.html).not.toContain(MONOSPACE);
    // "if this was not you" stands even without a link
    expect(mail.text).toMatch(/secure it right away/);
    expect(mail.text).not.toMatch(/\n\s*\n\s*\n/);
  });

  it("email-changed goes to the old address and shows the new one masked, never in full", () => {
    const mail = render(renderer, "email-changed", {
      recipient: recipient({ email: "old@example.com", locale: "fr" }),
      newEmail: "ada.new@lovelace.example",
      occurredAt: OCCURRED,
    });
    expect(mail.text).toContain("en a***@lovelace.example.");
    expect(mail.shown).toContain("a***@lovelace.example");
    expect(mail.html + mail.text).not.toContain("ada.new");
    const without = render(renderer, "email-changed", { recipient: recipient({ locale: "en" }), occurredAt: OCCURRED });
    expect(without.text).toContain("was changed on March 2, 2026 at 9:00 AM UTC. From now on");
  });

  it("mfa-changed names each factor in the recipient's language, added or removed", () => {
    const seen = new Set<string>();
    for (const factor of Object.keys(FACTORS) as Factor[]) {
      const added = render(renderer, "mfa-changed", { recipient: recipient({ locale: "de" }), factor, change: "added", occurredAt: OCCURRED });
      const detail = /Hinzugefügt: (.+)/.exec(added.text)?.[1];
      expect(detail, factor).toBeTruthy();
      seen.add(detail!);
      expect(added.subject).toMatch(/hinzugefügt$/);
    }
    expect(seen.size).toBe(5);
    expect(seen).toContain("Sicherheitsschlüssel (U2F)");
    const removed = render(renderer, "mfa-changed", { recipient: recipient({ locale: "zh" }), factor: "otp-app", change: "removed", occurredAt: OCCURRED });
    expect(removed.text).toContain("已移除：身份验证器应用（一次性验证码）");
    expect(removed.subject).toContain("移除了登录方式");
  });

  it("invite-user names the inviter in the body (escaped), never in the subject, and carries its code only in the link", () => {
    const link = "https://login.acme.test/invite?code=INV-77";
    const mail = render(
      renderer,
      "invite-user",
      {
        recipient: { userId: "u-2", email: "finn@example.com", locale: "sv" },
        inviter: { displayName: "Grace <b>Hopper</b>" },
        code: "INV-77",
        urlTemplate: "https://login.acme.test/invite?code={{code}}",
        expiresAt: "2026-03-09T09:03:00Z",
      },
      link,
    );
    expect(mail.subject).toBe("Inbjudan till Herald");
    expect(mail.text).toContain("Grace <b>Hopper</b> har bjudit in dig");
    expect(mail.html).toContain("Grace &lt;b&gt;Hopper&lt;/b&gt;");
    expect(mail.html).not.toContain("<b>Hopper</b>");
    expect(mail.text).toContain("Inbjudan är giltig i 7 dygn.");
    expect(hrefs(mail.html)).toContain(link);
    expect(mail.text.split("INV-77").length - 1).toBe(mail.text.split(link).length - 1);
    expect(mail.html).not.toContain(MONOSPACE);
  });

  it("otp-email shows the code; the button only when a link is given", () => {
    const plain = render(renderer, "otp-email", { recipient: recipient({ locale: "it" }), code: "318274", expiresAt: "2026-03-02T09:08:00Z" });
    expect(plain.subject).toBe("Il suo codice di accesso a Herald");
    expect(plain.html).toContain(MONOSPACE);
    expect(plain.text).toContain("318274");
    expect(plain.text).toContain("5 minuti");
    expect(hrefs(plain.html)).toEqual([]);
    expect(plain.text).not.toContain("Continua l'accesso");
    const linked = render(
      renderer,
      "otp-email",
      { recipient: recipient({ locale: "it" }), code: "318274", url: "https://login.acme.test/otp" },
      "https://login.acme.test/otp",
    );
    expect(hrefs(linked.html)).toContain("https://login.acme.test/otp");
    expect(linked.text).toContain("Continua l'accesso");
  });

  it("a tenant may override a notice's texts and a factor's name, with the same placeholders", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-notices-"));
    const file = join(dir, "tenants.yaml");
    writeFileSync(
      file,
      `tenants:
  acme:
    texts:
      mfa-changed:
        en: { factorU2f: "YubiKey", notYou: "Not you? Call the Acme desk at once." }
      password-changed:
        en: { text: "Changed at {{time}} for <strong>{{productName}}</strong>." }
`,
    );
    const tenantRenderer = await createRenderer({ tenantsFile: file });
    const mfa = render(tenantRenderer, "mfa-changed", {
      recipient: recipient({ locale: "en" }),
      tenant: { id: "acme" },
      factor: "u2f",
      change: "added",
      occurredAt: OCCURRED,
    });
    expect(mfa.text).toContain("Added: YubiKey");
    expect(mfa.text).toContain("Not you? Call the Acme desk at once.");
    const password = render(tenantRenderer, "password-changed", {
      recipient: recipient({ locale: "en", timeZone: "America/New_York" }),
      tenant: { id: "acme" },
      occurredAt: OCCURRED,
    });
    expect(password.text).toContain("Changed at March 2, 2026 at 4:00 AM EST for Herald.");
    expect(password.html).toContain("<strong>Herald</strong>");
  });
});
