import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isKindName, parseJob } from "../../src/contracts/index.js";
import { createRenderer, TemplateError, type Renderer } from "../../src/templates/renderer.js";
import { loadCatalog } from "../../src/templates/messages.js";
import { PLACEHOLDERS, placeholdersOf, TenantsFileError, unknownPlaceholders } from "../../src/templates/tenants.js";
import { memoryLog } from "../support/log-sink.js";
import { HeraldMetrics } from "../../src/metrics.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";
import { hrefs } from "../support/html.js";

const dir = mkdtempSync(join(tmpdir(), "herald-tenants-"));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const TENANTS = `
tenants:
  acme:
    branding: { primaryColor: "#123abc", logoUrl: "https://acme.test/logo.png", productName: "Acme ID" }
    from: "Acme <no-reply@acme.test>"
    defaultLocale: de
    texts:
      password-reset:
        en:
          subject: "Reset your Acme password"
          text: 'Hi from <strong>Acme</strong>, {{name}}! <a href="https://acme.test/help">Help</a> <script>alert(1)</script> <a href="javascript:alert(2)">x</a> <img src=x onerror=alert(3)>'
  globex:
    branding: { primaryColor: "#00ff00" }
`;

const job = (extra: Record<string, unknown> = {}) =>
  parseJob("password-reset", {
    recipient: { userId: "u", email: "ada@example.com", firstName: "<b>Ada</b>" },
    code: "C0DE77",
    url: "https://login.test/r",
    tenant: { id: "acme" },
    ...extra,
  });

describe("tenants file", () => {
  let renderer: Renderer;
  const unknownTenants: [string, string][] = [];
  beforeAll(async () => {
    renderer = await createRenderer({ tenantsFile: file("tenants.yaml", TENANTS), onUnknownTenant: (id, kind) => unknownTenants.push([id, kind]) });
  });

  it("brands a tenant's mails from the file, and the job's own branding wins", () => {
    const mail = renderer.email({
      kind: "password-reset",
      job: job({ recipient: { userId: "u", email: "a@example.com", locale: "en" } }),
      link: "https://login.test/r",
    });
    expect(mail.html).toContain("#123abc");
    expect(mail.html).toContain('src="https://acme.test/logo.png"');
    expect(mail.from).toBe("Acme <no-reply@acme.test>");
    const own = renderer.email({
      kind: "password-reset",
      job: job({ tenant: { id: "acme", branding: { primaryColor: "#ff0000" } } }),
      link: "https://login.test/r",
    });
    expect(own.html).toContain("#ff0000");
    expect(own.html).not.toContain("#123abc");
    expect(own.html).toContain("Acme ID"); // the rest of the file's branding still applies
  });

  it("uses the tenant's default locale when the recipient has none", () => {
    expect(renderer.email({ kind: "password-reset", job: job(), link: "https://l.test" }).subject).toBe("Setzen Sie Ihr Passwort für Acme ID zurück");
  });

  it("custom texts win for their kind and locale, keep only the safe HTML subset, and still escape values", () => {
    const mail = renderer.email({
      kind: "password-reset",
      job: job({ recipient: { userId: "u", email: "a@example.com", firstName: "<b>Ada</b>", locale: "en-GB" } }),
      link: "https://login.test/r",
    });
    expect(mail.subject).toBe("Reset your Acme password");
    expect(mail.html).toContain("Hi from <strong>Acme</strong>, &lt;b&gt;Ada&lt;/b&gt;!");
    expect(hrefs(mail.html)).toContain("https://acme.test/help");
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(hrefs(mail.html)).not.toContain("javascript:alert(2)");
    expect(mail.html).not.toMatch(/<img src=x/);
    expect(mail.text).toContain("Hi from Acme, <b>Ada</b>!");
    // other locales and kinds keep the built-in texts
    expect(
      renderer.email({
        kind: "email-verification",
        job: parseJob("email-verification", {
          recipient: { userId: "u", email: "a@example.com", locale: "en" },
          code: "1",
          url: "https://l.test",
          tenant: { id: "acme" },
        }),
        link: "https://l.test",
      }).subject,
    ).toMatch(/^Verify your email address for Acme ID/);
  });

  it("an unknown tenant id renders with the defaults, and is reported for every job", () => {
    unknownTenants.length = 0;
    const mail = renderer.email({ kind: "password-reset", job: job({ tenant: { id: "nobody" } }), link: "https://l.test" });
    expect(mail.from).toBeUndefined();
    expect(mail.html).toContain("#2563eb");
    renderer.sms({
      kind: "password-reset",
      job: parseJob("password-reset", { recipient: { userId: "u", phone: "+41791234567" }, code: "1", channel: "sms", tenant: { id: "acm" } }),
    });
    renderer.email({ kind: "password-reset", job: job(), link: "https://l.test" }); // a known one is not
    expect(unknownTenants).toEqual([
      ["nobody", "password-reset"],
      ["acm", "password-reset"],
    ]);
    expect(renderer.tenantIds).toEqual(["acme", "globex"]);
  });

  it("a tenant id is not checked when there is no tenants file (the job's own branding is all there is)", async () => {
    const seen: string[] = [];
    const plain = await createRenderer({ onUnknownTenant: (id) => seen.push(id) });
    plain.email({ kind: "password-reset", job: job(), link: "https://l.test" });
    expect(seen).toEqual([]);
  });

  it("a misspelt placeholder in a tenant's text stops start-up with the place named", async () => {
    const typo = "tenants:\n  acme:\n    texts:\n      password-reset:\n        de: { greeting: 'Hallo {{nam}},', footer: '{{#if prodctName}}x{{/if}}' }\n";
    const error = await createRenderer({ tenantsFile: file("typo.yaml", typo) }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(TenantsFileError);
    expect((error as Error).message).toContain(
      "tenants.acme.texts.password-reset.de.greeting: unknown placeholder {{nam}}; expected {{name}}, {{productName}}, {{code}}, {{expiry}}, {{loginName}}, {{passwordSet}}",
    );
    expect((error as Error).message).toContain("tenants.acme.texts.password-reset.de.footer: unknown placeholder {{prodctName}}");
  });

  it("each kind's own values are placeholders of that kind only", () => {
    expect(placeholdersOf("mfa-changed")).toEqual(expect.arrayContaining(["factor", "added", "name"]));
    expect(placeholdersOf("invite-user")).toContain("inviter");
    expect(placeholdersOf("password-reset")).not.toContain("inviter");
  });

  it("the built-in texts use only the placeholders tenants may use", () => {
    for (const [locale, sections] of loadCatalog()) {
      for (const [section, texts] of Object.entries(sections)) {
        const allowed = isKindName(section) ? placeholdersOf(section) : PLACEHOLDERS;
        for (const [key, text] of Object.entries(texts)) expect(unknownPlaceholders(text, allowed), `${locale} ${section}.${key}`).toEqual([]);
      }
    }
  });

  it("a broken tenants file stops start-up with the place named", async () => {
    await expect(createRenderer({ tenantsFile: file("bad1.yaml", "tenants:\n  acme:\n    branding: { primaryColor: red }\n") })).rejects.toThrow(
      /tenants\.acme\.branding\.primaryColor must be a hex colour/,
    );
    await expect(
      createRenderer({ tenantsFile: file("bad2.yaml", "tenants:\n  acme:\n    texts:\n      password-reset:\n        en: { subjekt: x }\n") }),
    ).rejects.toThrow(/tenants\.acme\.texts\.password-reset\.en\.subjekt: unknown text key/);
    await expect(
      createRenderer({ tenantsFile: file("bad3.yaml", "tenants:\n  acme:\n    texts:\n      newsletter:\n        en: { subject: x }\n") }),
    ).rejects.toThrow(/unknown kind/);
    await expect(createRenderer({ tenantsFile: file("bad4.yaml", "tenants: [\n") })).rejects.toThrow(TenantsFileError);
    await expect(createRenderer({ tenantsFile: file("bad5.yaml", "tenants:\n  acme:\n    from: nobody\n") })).rejects.toThrow(/tenants\.acme\.from/);
  });
});

describe("template overrides (HERALD_TEMPLATES_DIR)", () => {
  const layout = (extra = "") => `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>CUSTOM LAYOUT {{t.title}}</mj-text>
        <!-- herald:body -->${extra}
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
`;

  it("replace the layout and a kind's body; other kinds keep the built-in body", async () => {
    const over = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(over, "layout.mjml"), layout());
    writeFileSync(join(over, "passkey-link.mjml"), `<mj-text>CUSTOM PASSKEY BODY</mj-text>\n<mj-button href="{{link}}">{{t.button}}</mj-button>\n`);
    const renderer = await createRenderer({ templatesDir: over });
    const passkey = renderer.email({
      kind: "passkey-link",
      job: parseJob("passkey-link", { recipient: { userId: "u", email: "a@example.com" }, code: "1", codeId: "2", url: "https://l.test/p" }),
      link: "https://l.test/p",
    });
    expect(passkey.html).toContain("CUSTOM LAYOUT Register your passkey");
    expect(passkey.html).toContain("CUSTOM PASSKEY BODY");
    expect(passkey.text).toContain("CUSTOM PASSKEY BODY");
    const reset = renderer.email({ kind: "password-reset", job: job({ tenant: undefined }), link: "https://l.test/r" });
    expect(reset.html).toContain("CUSTOM LAYOUT");
    expect(reset.html).toContain("C0DE77"); // built-in body shows the code
  });

  it("a broken override stops start-up naming file and line", async () => {
    const over = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(over, "layout.mjml"), layout());
    writeFileSync(join(over, "email-verification.mjml"), `<mj-text>fine</mj-text>\n<mj-button href="{{link}}" colour="red">{{t.button}}</mj-button>\n`);
    const error = await createRenderer({ templatesDir: over }).catch((e) => e);
    expect(error).toBeInstanceOf(TemplateError);
    expect(error.message).toMatch(/email-verification\.mjml line 2: .*colour/);
  });

  it("a layout without the body marker, an unknown file, or a Handlebars syntax error is refused", async () => {
    const noMarker = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(noMarker, "layout.mjml"), "<mjml><mj-body></mj-body></mjml>");
    await expect(createRenderer({ templatesDir: noMarker })).rejects.toThrow(/layout\.mjml: the layout must contain <!-- herald:body -->/);
    const unknown = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(unknown, "pasword-reset.mjml"), "<mj-text>x</mj-text>");
    await expect(createRenderer({ templatesDir: unknown })).rejects.toThrow(/unknown template file\(s\) pasword-reset\.mjml/);
    const syntax = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(syntax, "password-reset.mjml"), "<mj-text>{{#if code}}unclosed</mj-text>");
    await expect(createRenderer({ templatesDir: syntax })).rejects.toThrow(/password-reset\.mjml/);
  });
});

describe("a tenant end to end", () => {
  let smtp: SmtpTestServer;
  let h: TestHerald;
  const log = memoryLog({ level: "warn" });
  let metrics: HeraldMetrics;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    h = await startTestHerald(
      { SMTP_URL: smtp.url, SMTP_FROM: "Herald <no-reply@herald.test>", HERALD_TENANTS_FILE: file("e2e.yaml", TENANTS) },
      { logger: log.logger },
    );
    metrics = new HeraldMetrics({ processMetrics: false });
    metrics.attach(h.workers.events);
  });
  afterAll(async () => {
    await h?.close();
    await smtp?.close();
  });

  it("is sent from the tenant's sender, in its default locale and colours", async () => {
    await h.herald.passwordReset({ recipient: { userId: "u", email: "ada@example.com" }, code: "T3NANT", url: "https://login.test/r", tenant: { id: "acme" } });
    const mail = (await smtp.waitForMails(1))[0]!;
    expect(mail.parsed.from?.text).toBe('"Acme" <no-reply@acme.test>');
    expect(mail.envelope.from).toBe("no-reply@acme.test");
    expect(mail.parsed.subject).toBe("Setzen Sie Ihr Passwort für Acme ID zurück");
    expect(String(mail.parsed.html)).toContain("#123abc");
  });

  it("a job naming a tenant the file lacks is delivered with the defaults, with a warning and a metric", async () => {
    await h.herald.passwordReset({
      recipient: { userId: "u", email: "ada@example.com", locale: "en" },
      code: "T3NANT",
      url: "https://login.test/r",
      tenant: { id: "acmee" },
    });
    const mail = (await smtp.waitForMails(2))[1]!;
    expect(mail.parsed.subject).toBe("Reset your Herald password");
    const warning = log.records().find((l) => l.tenant === "acmee");
    expect(warning).toMatchObject({
      level: 40,
      kind: "password-reset",
      msg: "job names a tenant that is not in HERALD_TENANTS_FILE: default branding and texts used",
    });
    expect(await metrics.render()).toMatch(/^herald_unknown_tenant_total\{kind="password-reset"\} 1$/m);
  });
});
