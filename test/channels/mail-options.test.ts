import { generateKeyPairSync } from "node:crypto";
import { simpleParser, type AddressObject } from "mailparser";
import { describe, expect, it } from "vitest";
import type { EmailMessage } from "../../src/channels/provider.js";
import { dkimFromEnv } from "../../src/config/dkim.js";
import { buildEml } from "../../src/channels/eml.js";
import { toMailOptions } from "../../src/channels/mail-options.js";
import { headerValues, lineProblems, splitMessage } from "../deliverability/inspect.js";

const FROM = "Acme ID <no-reply@acme.test>";
const message: EmailMessage = {
  to: { address: "ada@example.com", name: "Ada Lovelace" },
  subject: "Verify your email address for Acme ID",
  html: '<p>Hello Ada, <a href="https://login.acme.test/v?c=1">verify</a></p>',
  text: "Hello Ada, verify: https://login.acme.test/v?c=1\n",
};
const dkim = dkimFromEnv({
  SMTP_DKIM_DOMAIN: "acme.test",
  SMTP_DKIM_SELECTOR: "herald",
  SMTP_DKIM_PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string,
})!;

describe("toMailOptions and buildEml: the message every channel sends", () => {
  it("carries DKIM only when configured", () => {
    expect(toMailOptions(message, FROM)).not.toHaveProperty("dkim");
    expect(toMailOptions(message, FROM, { dkim }).dkim).toEqual(dkim);
  });

  it("signs the bytes only when configured", async () => {
    const unsigned = splitMessage((await buildEml(message, FROM)).raw);
    const signed = splitMessage((await buildEml(message, FROM, { dkim })).raw);
    expect(headerValues(unsigned, "DKIM-Signature")).toEqual([]);
    expect(headerValues(signed, "DKIM-Signature")).toHaveLength(1);
    expect(headerValues(signed, "DKIM-Signature")[0]).toMatch(/d=acme\.test;/);
  });

  it("marks the mail transactional: Auto-Submitted, no bulk headers", async () => {
    const raw = splitMessage((await buildEml(message, FROM, { dkim })).raw);
    expect(headerValues(raw, "Auto-Submitted")).toEqual(["auto-generated"]);
    expect(headerValues(raw, "X-Auto-Response-Suppress")).toEqual(["All"]);
    for (const bulk of ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Precedence"]) expect(headerValues(raw, bulk), bulk).toEqual([]);
  });

  it("takes the Message-ID domain from the sender actually used (a tenant's own From)", async () => {
    const own = await buildEml({ ...message, from: "Beta Login <hello@beta.test>" }, FROM);
    const parsed = await simpleParser(own.raw);
    expect((parsed.from as AddressObject).value[0]).toMatchObject({ name: "Beta Login", address: "hello@beta.test" });
    expect(own.messageId).toMatch(/@beta\.test>$/);
    expect(parsed.messageId).toBe(own.messageId);
  });

  it("keeps headers 7-bit and single-line: non-ASCII names encoded, line breaks flattened", async () => {
    const { raw } = await buildEml(
      { ...message, to: { address: "z@example.com", name: "Zoë\r\nBcc: eve@evil.test" }, subject: "Grüße\r\nBcc: eve@evil.test" },
      "Zürich Login <no-reply@acme.test>",
    );
    const split = splitMessage(raw);
    expect(/^[\x20-\x7e\r\n\t]*$/.test(split.headerBlock)).toBe(true);
    expect(headerValues(split, "Bcc")).toEqual([]);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe("Grüße Bcc: eve@evil.test");
    expect((parsed.from as AddressObject).value[0]!.name).toBe("Zürich Login");
    expect(parsed.bcc).toBeUndefined();
  });

  it("never writes a line over 998 octets, even for a long unbroken link or subject", async () => {
    const long = `https://login.acme.test/${"x".repeat(5000)}`;
    const { raw } = await buildEml({ ...message, subject: "S".repeat(400), html: `<p><a href="${long}">${long}</a></p>`, text: `${long}\n` }, FROM, { dkim });
    const lines = lineProblems(raw);
    expect(lines.tooLong).toEqual([]);
    expect(lines.bareLineEnds).toBe(0);
    const parsed = await simpleParser(raw);
    expect(parsed.text).toContain(long);
    expect(parsed.subject).toBe("S".repeat(400));
  });
});
