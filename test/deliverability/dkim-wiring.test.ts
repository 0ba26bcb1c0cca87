import { generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, testEnv, type TestHerald } from "../support/herald.js";
import { verifyDkim } from "./dkim-verify.js";
import { headerValues, splitMessage } from "./inspect.js";

const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const DKIM_ENV = {
  SMTP_DKIM_DOMAIN: "acme.test",
  SMTP_DKIM_SELECTOR: "mail2026",
  SMTP_DKIM_PRIVATE_KEY: keys.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
};
const dns = {
  name: "mail2026._domainkey.acme.test",
  record: `v=DKIM1; k=rsa; p=${keys.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
};
const job = {
  recipient: { userId: "u-7", email: "grace@example.com", firstName: "Grace", locale: "de" },
  code: "Q4W8E2",
  url: "https://login.acme.test/verify?c=Q4W8E2",
};

describe("SMTP_DKIM_* from the environment to signed mail (config → channels → worker)", () => {
  it("loadConfig refuses a half-done DKIM set-up, naming the variables", () => {
    expect(() => loadConfig(testEnv({ SMTP_DKIM_DOMAIN: "acme.test" }))).toThrow(ConfigError);
    expect(() => loadConfig(testEnv({ SMTP_DKIM_DOMAIN: "acme.test" }))).toThrow(
      /SMTP_DKIM_SELECTOR[^\n]*\n[^\n]*SMTP_DKIM_PRIVATE_KEY|SMTP_DKIM_PRIVATE_KEY[^\n]*\n[^\n]*SMTP_DKIM_SELECTOR/,
    );
    expect(() => loadConfig(testEnv({ ...DKIM_ENV, SMTP_DKIM_PRIVATE_KEY: "/nonexistent/dkim.pem" }))).toThrow(
      /SMTP_DKIM_PRIVATE_KEY .*\/nonexistent\/dkim\.pem/,
    );
    expect(() => loadConfig(testEnv(DKIM_ENV))).not.toThrow();
  });

  describe("over SMTP", () => {
    let smtp: SmtpTestServer;
    let h: TestHerald;

    beforeAll(async () => {
      smtp = await startSmtpServer();
      h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme ID <no-reply@acme.test>", ...DKIM_ENV });
    });
    afterAll(async () => {
      await h?.close();
      await smtp?.close();
    });

    it("the worker's mail arrives signed, and the signature verifies against the published key", async () => {
      await h.herald.enqueue("email-verification", job);
      await h.nextDelivery();
      const mail = (await smtp.waitForMails(1))[0]!;
      const raw = Buffer.from(mail.raw, "utf8");
      expect(headerValues(splitMessage(raw), "DKIM-Signature")).toHaveLength(1);
      const [verdict] = await verifyDkim([raw], dns);
      expect(verdict, verdict.log.join("; ")).toMatchObject({ ok: true });
    });
  });

  describe("in the outbox", () => {
    let h: TestHerald;

    beforeAll(async () => {
      h = await startTestHerald({ SMTP_FROM: "Acme ID <no-reply@acme.test>", ...DKIM_ENV });
    });
    afterAll(async () => {
      await h?.close();
    });

    it("the .eml is signed the same way and verifies", async () => {
      await h.herald.enqueue("email-verification", job);
      const delivered = await h.nextDelivery();
      expect(delivered.result).toMatchObject({ provider: "outbox" });
      const files = readdirSync(h.config.HERALD_OUTBOX_DIR).filter((f) => f.endsWith(".eml"));
      expect(files).toHaveLength(1);
      const raw = readFileSync(join(h.config.HERALD_OUTBOX_DIR, files[0]!));
      expect(headerValues(splitMessage(raw), "DKIM-Signature")).toHaveLength(1);
      const [verdict] = await verifyDkim([raw], dns);
      expect(verdict, verdict.log.join("; ")).toMatchObject({ ok: true });
    });
  });
});
