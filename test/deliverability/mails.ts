import { parseJob, type KindName } from "../../src/contracts/index.js";
import { buildEml } from "../../src/channels/eml.js";
import type { EmailMessage } from "../../src/channels/provider.js";
import type { DkimOptions } from "../../src/config/dkim.js";
import { createRenderer, type Renderer } from "../../src/templates/renderer.js";

/** The sender every deliverability test configures, and the domain everything must carry. */
export const FROM = "Acme ID <no-reply@acme.test>";
export const FROM_NAME = "Acme ID";
export const FROM_DOMAIN = "acme.test";
/** FROM_DOMAIN for use inside a RegExp. */
export const FROM_DOMAIN_RE = FROM_DOMAIN.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
export const LOGO_URL = "https://cdn.acme.test/brand/logo.png";
export const LINK = "https://login.acme.test/flow/continue?code=K7Q2M9&user=u-1001";
const NOW = Date.parse("2026-03-02T09:00:00Z");

const CODE = "K7Q2M9";
const OCCURRED = new Date(NOW - 180_000).toISOString();

/** Every email kind, both texts of resend-initialization and of mfa-changed. Security notices have no code. */
export const VARIANTS: { name: string; kind: KindName; extra: Record<string, unknown> }[] = [
  { name: "resend-initialization (passwordSet: false)", kind: "resend-initialization", extra: { code: CODE, passwordSet: false } },
  { name: "resend-initialization (passwordSet: true)", kind: "resend-initialization", extra: { code: CODE, passwordSet: true } },
  { name: "email-verification", kind: "email-verification", extra: { code: CODE } },
  { name: "password-reset", kind: "password-reset", extra: { code: CODE, expiresAt: new Date(NOW + 3_600_000).toISOString() } },
  { name: "passkey-link", kind: "passkey-link", extra: { code: CODE, codeId: "cid-77", expiresAt: new Date(NOW + 86_400_000).toISOString() } },
  { name: "otp-email", kind: "otp-email", extra: { code: "318274", expiresAt: new Date(NOW + 300_000).toISOString() } },
  {
    name: "invite-user",
    kind: "invite-user",
    extra: { code: CODE, inviter: { displayName: "Grace Hopper" }, expiresAt: new Date(NOW + 7 * 86_400_000).toISOString() },
  },
  { name: "password-changed", kind: "password-changed", extra: { occurredAt: OCCURRED } },
  { name: "email-changed", kind: "email-changed", extra: { occurredAt: OCCURRED, newEmail: "ada@lovelace.example" } },
  { name: "mfa-changed (added)", kind: "mfa-changed", extra: { occurredAt: OCCURRED, factor: "passkey", change: "added" } },
  { name: "mfa-changed (removed)", kind: "mfa-changed", extra: { occurredAt: OCCURRED, factor: "otp-app", change: "removed" } },
];

export interface MailCase {
  /** e.g. "password-reset de" or "email-verification en, no logo" */
  id: string;
  kind: KindName;
  locale: string;
  logo: boolean;
  message: EmailMessage;
}

/**
 * Every variant in every locale of the built-in catalog with a logo, plus en and de without one (the product
 * name is then shown as text). `locales` narrows the set.
 */
export async function mailCases(opts: { locales?: readonly string[]; renderer?: Renderer } = {}): Promise<MailCase[]> {
  const renderer = opts.renderer ?? (await createRenderer());
  const locales = opts.locales ?? renderer.locales;
  const cases: MailCase[] = [];
  const add = (variant: (typeof VARIANTS)[number], locale: string, logo: boolean) => {
    const job = parseJob(variant.kind, {
      recipient: {
        userId: "u-1001",
        email: "ada.lovelace@example.com",
        firstName: "Ada",
        lastName: "Lovelace",
        displayName: "Ada Lovelace",
        locale,
        timeZone: "Europe/Zurich",
      },
      tenant: { id: "acme", name: "Acme ID", branding: logo ? { logoUrl: LOGO_URL } : {} },
      url: LINK,
      ...variant.extra,
    });
    const mail = renderer.email({ kind: variant.kind, job, link: LINK, now: NOW });
    cases.push({
      id: `${variant.name} ${locale}${logo ? "" : ", no logo"}`,
      kind: variant.kind,
      locale,
      logo,
      message: { to: { address: "ada.lovelace@example.com", name: "Ada Lovelace" }, subject: mail.subject, html: mail.html, text: mail.text },
    });
  };
  for (const locale of locales) for (const variant of VARIANTS) add(variant, locale, true);
  for (const locale of ["en", "de"].filter((l) => locales.includes(l))) for (const variant of VARIANTS) add(variant, locale, false);
  return cases;
}

export async function emlOf(c: MailCase, dkim?: DkimOptions): Promise<{ raw: Buffer; messageId: string }> {
  return buildEml(c.message, FROM, { dkim });
}
