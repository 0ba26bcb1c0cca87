import { createPublicKey, generateKeyPairSync, verify as cryptoVerify, sign as cryptoSign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkDkim, DkimConfigError, dkimDnsRecord, dkimFromEnv, dkimIssues, type DkimEnv } from "../../src/config/dkim.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PKCS1 = rsa.privateKey.export({ type: "pkcs1", format: "pem" }) as string;
const PKCS8 = rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
/** A line of the key's base64: no error message may ever contain it. */
const KEY_FRAGMENT = PKCS8.split("\n")[5];

const dir = mkdtempSync(join(tmpdir(), "herald-dkim-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good: DkimEnv = { SMTP_DKIM_DOMAIN: "acme.test", SMTP_DKIM_SELECTOR: "herald", SMTP_DKIM_PRIVATE_KEY: PKCS1 };

function issuesFor(env: DkimEnv) {
  const issues = dkimIssues(env);
  for (const issue of issues) {
    expect(issue.message, "an issue names its variable").toContain(issue.variable);
    expect(issue.message, "no key material in messages").not.toContain(KEY_FRAGMENT);
  }
  return issues;
}

describe("DKIM configuration (SMTP_DKIM_DOMAIN, SMTP_DKIM_SELECTOR, SMTP_DKIM_PRIVATE_KEY)", () => {
  it("is off when none of the three is set, or all are blank", () => {
    expect(dkimFromEnv({})).toBeUndefined();
    expect(dkimFromEnv({ SMTP_DKIM_DOMAIN: "", SMTP_DKIM_SELECTOR: "  ", SMTP_DKIM_PRIVATE_KEY: "" })).toBeUndefined();
    expect(dkimIssues({ SMTP_FROM: "Acme <a@acme.test>" })).toEqual([]);
  });

  it("takes PKCS#1 or PKCS#8 PEM text and hands nodemailer a usable PKCS#8 key", () => {
    for (const pem of [PKCS1, PKCS8, `\n  ${PKCS1}  \n`]) {
      const dkim = dkimFromEnv({ ...good, SMTP_DKIM_PRIVATE_KEY: pem })!;
      expect(dkim.domainName).toBe("acme.test");
      expect(dkim.keySelector).toBe("herald");
      expect(dkim.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const signature = cryptoSign("sha256", Buffer.from("x"), dkim.privateKey);
      expect(cryptoVerify("sha256", Buffer.from("x"), rsa.publicKey, signature)).toBe(true);
    }
  });

  it("takes PEM text with literal \\n sequences (one-line env files)", () => {
    const oneLine = PKCS8.trim().replace(/\n/g, "\\n");
    expect(oneLine).not.toContain("\n");
    expect(dkimFromEnv({ ...good, SMTP_DKIM_PRIVATE_KEY: oneLine })!.privateKey).toBe(PKCS8);
  });

  it("takes the path of a PEM file, absolute or relative to the working directory", () => {
    const file = join(dir, "dkim.pem");
    writeFileSync(file, PKCS1, { mode: 0o600 });
    expect(dkimFromEnv({ ...good, SMTP_DKIM_PRIVATE_KEY: file })!.privateKey).toBe(PKCS8);
    expect(dkimFromEnv({ ...good, SMTP_DKIM_PRIVATE_KEY: relative(process.cwd(), file) })!.privateKey).toBe(PKCS8);
  });

  it("normalizes the domain: case, trailing dot, IDN to punycode", () => {
    expect(dkimFromEnv({ ...good, SMTP_DKIM_DOMAIN: "Mail.ACME.test." })!.domainName).toBe("mail.acme.test");
    expect(dkimFromEnv({ ...good, SMTP_DKIM_DOMAIN: "bücher.example" })!.domainName).toBe("xn--bcher-kva.example");
  });

  it("a partial configuration names what is missing", () => {
    expect(issuesFor({ SMTP_DKIM_DOMAIN: "acme.test" }).map((i) => i.variable)).toEqual(["SMTP_DKIM_SELECTOR", "SMTP_DKIM_PRIVATE_KEY"]);
    expect(issuesFor({ SMTP_DKIM_DOMAIN: "acme.test", SMTP_DKIM_PRIVATE_KEY: PKCS1 }).map((i) => i.variable)).toEqual(["SMTP_DKIM_SELECTOR"]);
    expect(issuesFor({ SMTP_DKIM_DOMAIN: "acme.test", SMTP_DKIM_SELECTOR: "herald" }).map((i) => i.variable)).toEqual(["SMTP_DKIM_PRIVATE_KEY"]);
    const noDomain = issuesFor({ SMTP_DKIM_SELECTOR: "herald", SMTP_DKIM_PRIVATE_KEY: PKCS1 });
    expect(noDomain.map((i) => i.variable)).toEqual(["SMTP_DKIM_DOMAIN"]);
    expect(noDomain[0]?.message).toMatch(/SMTP_DKIM_DOMAIN is required when SMTP_DKIM_SELECTOR and SMTP_DKIM_PRIVATE_KEY is set/);
  });

  it.each([
    ["acme", "SMTP_DKIM_DOMAIN", /must be a domain name/],
    ["acme_test.com", "SMTP_DKIM_DOMAIN", /must be a domain name/],
    ["-acme.test", "SMTP_DKIM_DOMAIN", /must be a domain name/],
    ["acme.test/x", "SMTP_DKIM_DOMAIN", /must be a domain name/],
  ])("refuses the domain %j", (domain, variable, message) => {
    const issues = issuesFor({ ...good, SMTP_DKIM_DOMAIN: domain });
    expect(issues.map((i) => i.variable)).toEqual([variable]);
    expect(issues[0]?.message).toMatch(message);
  });

  it.each(["my selector", "s1;x=y", "-s1", "s1.", "sel_ector"])("refuses the selector %j", (selector) => {
    const issues = issuesFor({ ...good, SMTP_DKIM_SELECTOR: selector });
    expect(issues.map((i) => i.variable)).toEqual(["SMTP_DKIM_SELECTOR"]);
    expect(issues[0]?.message).toMatch(/must be one or more DNS labels/);
  });

  it("accepts dotted selectors such as 2026.mail", () => {
    expect(dkimFromEnv({ ...good, SMTP_DKIM_SELECTOR: "2026.mail" })!.keySelector).toBe("2026.mail");
  });

  describe("refuses keys that cannot sign, saying why", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const small = generateKeyPairSync("rsa", { modulusLength: 768 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
    const encrypted8 = rsa.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }) as string;
    const encrypted1 = rsa.privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }) as string;
    const publicPem = createPublicKey(rsa.privateKey).export({ type: "spki", format: "pem" }) as string;
    const garbage = "-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n";
    const cases: [string, string, RegExp][] = [
      ["EC key", ec, /is a ec key; .*needs an RSA key/],
      ["Ed25519 key", ed, /is a ed25519 key; .*needs an RSA key/],
      ["768-bit RSA key", small, /768-bit RSA key; DKIM needs at least 1024 bits/],
      ["encrypted PKCS#8", encrypted8, /is encrypted/],
      ["encrypted PKCS#1", encrypted1, /is encrypted/],
      ["public key", publicPem, /holds a public key/],
      ["damaged PEM", garbage, /is not a valid PEM private key/],
      ["missing file", join(dir, "nope.pem"), /neither a PEM key .* nor a readable file: .*nope\.pem \(ENOENT\)/],
      ["file without PEM", (writeFileSync(join(dir, "empty.pem"), "hello\n"), join(dir, "empty.pem")), /holds no PEM key/],
      ["multi-line non-PEM text", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQ", /must be a PEM key/],
    ];
    it.each(cases)("%s", (_, key, message) => {
      const issues = issuesFor({ ...good, SMTP_DKIM_PRIVATE_KEY: key });
      expect(issues.map((i) => i.variable)).toEqual(["SMTP_DKIM_PRIVATE_KEY"]);
      expect(issues[0]?.message).toMatch(message);
    });
  });

  it("checks the signing domain against SMTP_FROM: same domain or subdomain passes, another domain does not", () => {
    expect(dkimIssues({ ...good, SMTP_FROM: "Acme ID <no-reply@acme.test>" })).toEqual([]);
    expect(dkimIssues({ ...good, SMTP_FROM: "no-reply@mail.acme.test" })).toEqual([]);
    expect(dkimIssues({ ...good, SMTP_DKIM_DOMAIN: "mail.acme.test", SMTP_FROM: "Acme <no-reply@acme.test>" })).toEqual([]);
    const issues = issuesFor({ ...good, SMTP_FROM: "Acme <no-reply@acme.example>" });
    expect(issues.map((i) => i.variable)).toEqual(["SMTP_DKIM_DOMAIN"]);
    expect(issues[0]?.message).toMatch(/acme\.test does not match the domain of SMTP_FROM \(acme\.example\)/);
  });

  it("dkimFromEnv throws one DkimConfigError listing every problem", () => {
    let error: unknown;
    try {
      dkimFromEnv({
        SMTP_DKIM_DOMAIN: "acme",
        SMTP_DKIM_SELECTOR: "bad selector",
        SMTP_DKIM_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DkimConfigError);
    expect((error as DkimConfigError).issues.map((i) => i.variable)).toEqual(["SMTP_DKIM_DOMAIN", "SMTP_DKIM_SELECTOR", "SMTP_DKIM_PRIVATE_KEY"]);
    expect((error as Error).message).toMatch(/SMTP_DKIM_DOMAIN.*\n.*SMTP_DKIM_SELECTOR.*\n.*SMTP_DKIM_PRIVATE_KEY/);
    expect(checkDkim({ SMTP_DKIM_DOMAIN: "acme" }).dkim).toBeUndefined();
  });

  it("dkimDnsRecord is the TXT record for <selector>._domainkey.<domain> with the public key", () => {
    const record = dkimDnsRecord(dkimFromEnv(good)!);
    expect(record.name).toBe("herald._domainkey.acme.test");
    expect(record.value).toBe(`v=DKIM1; k=rsa; p=${(rsa.publicKey.export({ type: "spki", format: "der" }) as Buffer).toString("base64")}`);
  });
});
