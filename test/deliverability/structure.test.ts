import { generateKeyPairSync } from "node:crypto";
import { simpleParser, type AddressObject, type ParsedMail } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dkimFromEnv } from "../../src/config/dkim.js";
import { createSmtpProvider } from "../../src/channels/smtp.js";
import type { EmailProvider } from "../../src/channels/provider.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { hrefs } from "../support/html.js";
import { headerValues, lineProblems, multipartChildren, remoteResources, resourceUrl, splitMessage } from "./inspect.js";
import { hasChannel, KIND_NAMES } from "../../src/contracts/index.js";
import { emlOf, FROM, FROM_DOMAIN, FROM_DOMAIN_RE, FROM_NAME, LINK, LOGO_URL, mailCases, VARIANTS, type MailCase } from "./mails.js";

const SUBJECT_MAX = 78;
const HTML_MAX_BYTES = 100 * 1024; // Gmail clips messages whose HTML passes ~102 KB
const RFC5322_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;

/** Headers, MIME structure, lines and content of one message, checked on the bytes as sent. */
async function expectWellFormed(raw: Buffer, c: MailCase): Promise<ParsedMail> {
  const where = c.id;
  const message = splitMessage(raw);
  const parsed = await simpleParser(raw);

  // RFC 5322 lines
  const lines = lineProblems(raw);
  expect(lines.tooLong, `${where}: lines longer than 998 octets (longest ${lines.longest})`).toEqual([]);
  expect(lines.bareLineEnds, `${where}: bare CR or LF line ends`).toBe(0);
  expect(/^[\x20-\x7e\r\n\t]*$/.test(message.headerBlock), `${where}: header block must be 7-bit (encoded words for non-ASCII)`).toBe(true);

  // exactly one of each origination header, well-formed
  for (const name of ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]) {
    expect(headerValues(message, name), `${where}: exactly one ${name} header`).toHaveLength(1);
  }
  expect(headerValues(message, "MIME-Version")[0]).toBe("1.0");
  expect(headerValues(message, "Date")[0], `${where}: Date in RFC 5322 form`).toMatch(RFC5322_DATE);
  expect(Number.isNaN(Date.parse(headerValues(message, "Date")[0]!)), `${where}: Date parses`).toBe(false);
  expect(headerValues(message, "Message-ID")[0], `${where}: Message-ID`).toMatch(new RegExp(`^<[^<>@\\s]+@${FROM_DOMAIN_RE}>$`));

  const from = (parsed.from as AddressObject).value;
  expect(from, `${where}: one sender`).toHaveLength(1);
  expect(from[0]!.name, `${where}: From has a display name`).toBe(FROM_NAME);
  expect(from[0]!.address?.split("@")[1], `${where}: From domain is the configured one`).toBe(FROM_DOMAIN);
  expect((parsed.to as AddressObject).value.map((a) => a.address)).toEqual([c.message.to.address]);

  // transactional, not bulk
  expect(headerValues(message, "Auto-Submitted"), `${where}: Auto-Submitted`).toEqual(["auto-generated"]);
  expect(headerValues(message, "List-Unsubscribe"), `${where}: no List-Unsubscribe on transactional mail`).toEqual([]);
  expect(headerValues(message, "List-Unsubscribe-Post")).toEqual([]);
  expect(headerValues(message, "Precedence"), `${where}: no Precedence: bulk/list`).toEqual([]);

  // subject
  expect(parsed.subject, `${where}: subject survives encoding`).toBe(c.message.subject);
  expect([...(parsed.subject ?? "")].length, `${where}: subject "${parsed.subject}" is too long`).toBeLessThanOrEqual(SUBJECT_MAX);

  // multipart/alternative: text first, HTML last (the part clients prefer), nothing else
  expect(headerValues(message, "Content-Type")[0]!.split(";")[0], `${where}: top-level type`).toBe("multipart/alternative");
  const parts = multipartChildren(message);
  expect(
    parts.map((p) => p.contentType),
    `${where}: parts`,
  ).toEqual(["text/plain", "text/html"]);
  for (const part of parts) expect(headerValues({ ...message, headers: part.headers }, "Content-Type")[0], `${where}: charset`).toMatch(/charset=utf-8/i);
  expect(parsed.attachments, `${where}: no attachments`).toEqual([]);

  // both parts carry the content
  const html = String(parsed.html);
  const text = parsed.text ?? "";
  expect(text.trim().length, `${where}: text part not empty`).toBeGreaterThan(50);
  expect(text, `${where}: link in the text part`).toContain(LINK);
  expect(hrefs(html), `${where}: link in the HTML part`).toContain(LINK);
  return parsed;
}

/** The HTML part: small enough not to be clipped, and the logo (when configured) is the one thing fetched. */
function expectLeanHtml(parsed: ParsedMail, c: MailCase): void {
  const html = String(parsed.html);
  expect(Buffer.byteLength(html), `${c.id}: HTML size`).toBeLessThan(HTML_MAX_BYTES);
  const resources = remoteResources(html);
  if (c.logo) expect(resources, `${c.id}: the logo is shown`).toContain(`<img src> ${LOGO_URL}`);
}

/**
 * What the mails fetch on open besides the logo, grouped by resource: one cause (a layout line, a compiler
 * option) usually shows up in every mail, and this names it once with the mails it affects.
 */
function foreignResources(mails: { c: MailCase; parsed: ParsedMail }[]): string {
  const byResource = new Map<string, string[]>();
  for (const { c, parsed } of mails) {
    for (const r of remoteResources(String(parsed.html)).filter((r) => resourceUrl(r) !== LOGO_URL)) {
      byResource.set(r, [...(byResource.get(r) ?? []), c.id]);
    }
  }
  const report = [...byResource].map(
    ([r, ids]) => `${r}\n    in ${ids.length} of ${mails.length} mails: ${ids.slice(0, 4).join("; ")}${ids.length > 4 ? "; …" : ""}`,
  );
  if ([...byResource.keys()].some((r) => r.includes("fonts.googleapis.com"))) {
    report.push(
      "hint: MJML imports Google Fonts when font-family names Roboto, Open Sans, Lato, Droid Sans or Ubuntu; compile with mjml2html(…, { fonts: {} })",
    );
  }
  return report.join("\n");
}

// Rendered once at collection, so every case is a test of its own and a failure names kind and locale.
const cases = await mailCases();

describe("deliverability: the bytes of every email kind", () => {
  it("covers every email kind and both resend-initialization and mfa-changed texts in en and de, with and without a logo", () => {
    const ids = cases.map((c) => c.id);
    const kinds = new Set(VARIANTS.map((v) => v.kind));
    for (const kind of KIND_NAMES.filter((k) => hasChannel(k, "email"))) expect(kinds, kind).toContain(kind);
    for (const locale of ["en", "de"]) {
      for (const kind of VARIANTS.map((v) => v.name)) {
        expect(ids).toContain(`${kind} ${locale}`);
        expect(ids).toContain(`${kind} ${locale}, no logo`);
      }
    }
    // the two resend-initialization texts differ, so both really are covered
    const [f, t] = ["false", "true"].map((v) => cases.find((c) => c.id === `resend-initialization (passwordSet: ${v}) en`)!.message.text);
    expect(f).not.toBe(t);
    const [added, removed] = ["added", "removed"].map((v) => cases.find((c) => c.id === `mfa-changed (${v}) de`)!.message.subject);
    expect(added).not.toBe(removed);
  });

  describe("as buildEml writes them (the exact bytes SMTP carries)", () => {
    for (const c of cases) {
      it(`${c.id}: headers, MIME parts, line lengths, subject`, async () => {
        await expectWellFormed((await emlOf(c)).raw, c);
      });
      it(`${c.id}: HTML under 100 KB, logo shown`, async () => {
        expectLeanHtml(await simpleParser((await emlOf(c)).raw), c);
      });
    }

    it("no mail fetches anything on open but the logo (images, fonts, style sheets, scripts, CSS url())", async () => {
      const mails = await Promise.all(cases.map(async (c) => ({ c, parsed: await simpleParser((await emlOf(c)).raw) })));
      // remote content is blocked by many clients, leaks opens and looks like tracking; <a href> links are fine
      expect(foreignResources(mails), "remote resources other than branding.logoUrl").toBe("");
    });
  });

  describe("through the real SMTP channel, DKIM-signed", () => {
    const selected = cases.filter((c) => ["en", "de"].includes(c.locale) && c.logo);
    let smtp: SmtpTestServer;
    let channel: EmailProvider;
    const received = new Map<string, { raw: Buffer; envelope: { from: string; to: string[] } }>();

    beforeAll(async () => {
      smtp = await startSmtpServer();
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const dkim = dkimFromEnv({
        SMTP_DKIM_DOMAIN: FROM_DOMAIN,
        SMTP_DKIM_SELECTOR: "herald",
        SMTP_DKIM_PRIVATE_KEY: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        SMTP_FROM: FROM,
      });
      channel = createSmtpProvider({ url: smtp.url, from: FROM, dkim });
      const receipts = await Promise.all(selected.map((c) => channel.send(c.message)));
      const mails = await smtp.waitForMails(selected.length);
      for (const [i, c] of selected.entries()) {
        const mail = mails.find((m) => m.parsed.messageId === receipts[i]!.messageId);
        if (mail) received.set(c.id, { raw: Buffer.from(mail.raw, "utf8"), envelope: mail.envelope });
      }
    });
    afterAll(async () => {
      await channel?.close();
      await smtp?.close();
    });

    it("en and de of every kind arrive, one each, to the right envelope", () => {
      expect(selected).toHaveLength(VARIANTS.length * 2);
      expect([...received.keys()].sort()).toEqual(selected.map((c) => c.id).sort());
      for (const c of selected) {
        expect(received.get(c.id)!.envelope.to).toEqual([c.message.to.address]);
        expect(received.get(c.id)!.envelope.from.split("@")[1], `${c.id}: envelope sender domain`).toBe(FROM_DOMAIN);
      }
    });

    it("what the server received is well-formed and signed for the sender's domain", async () => {
      for (const c of selected) {
        const raw = received.get(c.id)!.raw;
        await expectWellFormed(raw, c);
        const signatures = headerValues(splitMessage(raw), "DKIM-Signature");
        expect(signatures, `${c.id}: one DKIM signature`).toHaveLength(1);
        expect(signatures[0]).toMatch(new RegExp(`(^|;\\s*)d=${FROM_DOMAIN_RE};`));
      }
    });

    it("what the server received has lean HTML with no remote resource but the logo", async () => {
      const mails = await Promise.all(selected.map(async (c) => ({ c, parsed: await simpleParser(received.get(c.id)!.raw) })));
      for (const { c, parsed } of mails) expectLeanHtml(parsed, c);
      expect(foreignResources(mails), "remote resources other than branding.logoUrl").toBe("");
    });
  });
});

describe("remoteResources finds what a mail client would fetch", () => {
  it("lists images, style sheets, scripts, CSS url() and @import, and leaves links alone", () => {
    const html = `<html xmlns="http://www.w3.org/1999/xhtml"><head>
      <link href="https://fonts.example/css" rel="stylesheet"><style>@import url(https://a.example/x.css); @import 'https://b.example/y.css'; .x{background-image:url("https://c.example/bg.png")}</style>
      <script src="https://d.example/t.js"></script></head>
      <body background="https://e.example/b.png"><img src="https://f.example/pixel.gif" srcset="https://g.example/1x.png 1x, https://h.example/2x.png 2x">
      <div style="background:url(&quot;https://i.example/i.png&quot;)">x</div><!--[if mso]><v:image src="https://j.example/v.png" /><![endif]-->
      <a href="https://k.example/click">click</a></body></html>`;
    const urls = remoteResources(html).map(resourceUrl);
    for (const host of "abcdefghij")
      expect(
        urls.some((u) => u.includes(`${host}.example`)),
        host,
      ).toBe(true);
    expect(urls.some((u) => u.includes("fonts.example"))).toBe(true);
    expect(urls.some((u) => u.includes("k.example"))).toBe(false);
    expect(urls.some((u) => u.includes("w3.org"))).toBe(false);
  });
});
