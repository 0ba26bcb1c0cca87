import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dkimDnsRecord, dkimFromEnv, type DkimOptions } from "../../src/config/dkim.js";
import { buildEml } from "../../src/channels/eml.js";
import { createSmtpProvider } from "../../src/channels/smtp.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { assertVerifierInstalled, verifyDkim } from "./dkim-verify.js";
import { headerValues, splitMessage } from "./inspect.js";
import { FROM, FROM_DOMAIN, FROM_DOMAIN_RE, mailCases, VARIANTS, type MailCase } from "./mails.js";

const SELECTOR = "herald2026";
const DNS_NAME = `${SELECTOR}._domainkey.${FROM_DOMAIN}`;

/** The TXT record an operator publishes, built here from the public key alone (not by the code under test). */
function txtRecord(publicKey: KeyObject): string {
  return `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
}

const cases: MailCase[] = await mailCases({ locales: ["en", "de"] });

describe("DKIM: signatures verify with an independent verifier (python3-dkim) against the published key", () => {
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const record = txtRecord(keys.publicKey);
  let dkim: DkimOptions;
  let signed: Buffer[];

  beforeAll(async () => {
    assertVerifierInstalled();
    dkim = dkimFromEnv({
      SMTP_DKIM_DOMAIN: FROM_DOMAIN,
      SMTP_DKIM_SELECTOR: SELECTOR,
      // PKCS#1 PEM text, as `openssl genrsa` writes it
      SMTP_DKIM_PRIVATE_KEY: keys.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      SMTP_FROM: FROM,
    })!;
    signed = await Promise.all(cases.map(async (c) => (await buildEml(c.message, FROM, { dkim })).raw));
  });

  it("buildEml signs every kind in en and de, and every signature verifies", async () => {
    expect(signed).toHaveLength(VARIANTS.length * 4); // en and de, with and without a logo
    const verdicts = await verifyDkim(signed, { name: DNS_NAME, record });
    for (const [i, c] of cases.entries()) expect(verdicts[i], `${c.id}: ${verdicts[i]!.log.join("; ")}`).toMatchObject({ ok: true });
  });

  it("signs for the configured domain and selector, rsa-sha256, relaxed, covering the headers that matter", () => {
    const message = splitMessage(signed[0]!);
    const signatures = headerValues(message, "DKIM-Signature");
    expect(signatures).toHaveLength(1);
    const tags = Object.fromEntries(
      signatures[0]!.split(";").map((t) =>
        t
          .trim()
          .split(/=(.*)/s)
          .slice(0, 2)
          .map((s) => s.replace(/\s+/g, "")),
      ),
    );
    expect(tags).toMatchObject({ v: "1", a: "rsa-sha256", c: "relaxed/relaxed", d: FROM_DOMAIN, s: SELECTOR });
    const signedHeaders = tags.h.toLowerCase().split(":");
    for (const name of ["from", "to", "subject", "date", "message-id", "mime-version", "content-type"]) expect(signedHeaders).toContain(name);
    // the From being signed is the configured domain's: aligned for DMARC
    expect(headerValues(message, "From")[0]).toMatch(new RegExp(`@${FROM_DOMAIN_RE}>$`));
  });

  it("a tampered body, a changed subject or sender, another key or another selector fail verification", async () => {
    const original = signed[0]!.toString("latin1");
    const { headerBlock, body } = splitMessage(signed[0]!);
    expect(body).toContain("K7Q2M9");
    const tamperedBody = Buffer.from(`${headerBlock}\r\n\r\n${body.replace("K7Q2M9", "K7Q2M8")}`, "latin1");
    const tamperedSubject = Buffer.from(original.replace(/^Subject: .*(\r\n[ \t].*)*/m, "Subject: Your account was suspended"), "latin1");
    const tamperedFrom = Buffer.from(original.replace(/^From: .*/m, "From: Acme ID <security@evil.test>"), "latin1");
    expect(tamperedBody.equals(signed[0]!)).toBe(false);
    expect(tamperedSubject.equals(signed[0]!)).toBe(false);
    expect(tamperedFrom.equals(signed[0]!)).toBe(false);

    const [body1, subject1, from1] = await verifyDkim([tamperedBody, tamperedSubject, tamperedFrom], { name: DNS_NAME, record });
    expect(body1.ok, "tampered body").toBe(false);
    expect(body1.log.join(" ")).toMatch(/body hash mismatch/i);
    expect(subject1.ok, "changed subject").toBe(false);
    expect(from1.ok, "changed From").toBe(false);

    const other = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const [wrongKey] = await verifyDkim([signed[0]!], { name: DNS_NAME, record: txtRecord(other.publicKey) });
    expect(wrongKey.ok, "verified against another key").toBe(false);
    const [wrongName] = await verifyDkim([signed[0]!], { name: `other._domainkey.${FROM_DOMAIN}`, record });
    expect(wrongName.ok, "key published under another selector").toBe(false);
  });

  it("survives what relays do (a Received header on top), and an unsigned message does not pass", async () => {
    const relayed = Buffer.concat([
      Buffer.from("Received: from herald.acme.test (herald.acme.test [192.0.2.10])\r\n\tby mx.example.com with ESMTPS; Mon, 2 Mar 2026 09:00:01 +0000\r\n"),
      signed[1]!,
    ]);
    const unsigned = (await buildEml(cases[1]!.message, FROM)).raw;
    expect(headerValues(splitMessage(unsigned), "DKIM-Signature")).toEqual([]);
    const [relayedVerdict, unsignedVerdict] = await verifyDkim([relayed, unsigned], { name: DNS_NAME, record });
    expect(relayedVerdict.ok, relayedVerdict.log.join("; ")).toBe(true);
    expect(unsignedVerdict.ok).toBe(false);
  });

  it("dkimDnsRecord gives operators the record to publish: the right name and the key that verifies", () => {
    expect(dkimDnsRecord(dkim)).toEqual({ name: DNS_NAME, value: record });
  });

  describe("over SMTP (createSmtpProvider → real smtp-server), key read from a PEM file", () => {
    let smtp: SmtpTestServer;
    let dir: string;

    beforeAll(async () => {
      smtp = await startSmtpServer();
      dir = mkdtempSync(join(tmpdir(), "herald-dkim-"));
    });
    afterAll(async () => {
      await smtp?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("every kind in en and de arrives with a signature that verifies", async () => {
      const file = join(dir, "dkim.pem");
      writeFileSync(file, keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
      const fromFile = dkimFromEnv({ SMTP_DKIM_DOMAIN: FROM_DOMAIN, SMTP_DKIM_SELECTOR: SELECTOR, SMTP_DKIM_PRIVATE_KEY: file, SMTP_FROM: FROM })!;
      const channel = createSmtpProvider({ url: smtp.url, from: FROM, dkim: fromFile });
      try {
        const selected = cases.filter((c) => c.logo);
        const receipts = await Promise.all(selected.map((c) => channel.send(c.message)));
        const mails = await smtp.waitForMails(selected.length);
        const raws = receipts.map((r) => Buffer.from(mails.find((m) => m.parsed.messageId === r.messageId)!.raw, "utf8"));
        for (const raw of raws) expect(headerValues(splitMessage(raw), "DKIM-Signature")).toHaveLength(1);
        const verdicts = await verifyDkim(raws, { name: DNS_NAME, record });
        for (const [i, c] of selected.entries()) expect(verdicts[i], `${c.id}: ${verdicts[i]!.log.join("; ")}`).toMatchObject({ ok: true });
      } finally {
        await channel.close();
      }
    });
  });
});
