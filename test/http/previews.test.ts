import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_KINDS, IMAGE_LOCALES, MAIL_WIDTH, SMS_IMAGE, writePreviewImages } from "../../scripts/preview-images.js";
import { hasChannel, KIND_NAMES } from "../../src/contracts/index.js";
import { createHttpServer, loadHttpConfig, type HeraldHttpServer } from "../../src/http/index.js";
import { createLogger } from "../../src/logger.js";
import { HeraldMetrics } from "../../src/metrics.js";
import { createRedis } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { Herald } from "../../src/queues/producer.js";
import { createRenderer, type Renderer } from "../../src/templates/renderer.js";
import { browserUnderTest } from "../support/chromium.js";
import { uniquePrefix } from "../support/herald.js";
import { ADMIN_TOKEN, asAdmin, asEnqueue, ENQUEUE_TOKEN, TOKENS } from "../support/harness.js";

// Pictures for the README are written only on request (HERALD_UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
const IMAGES = process.env.HERALD_UPDATE_SCREENSHOTS
  ? join(dirname(fileURLToPath(import.meta.url)), "../../docs/images/previews")
  : mkdtempSync(join(tmpdir(), "herald-previews-"));
const MAIL_SCREENSHOT = join(IMAGES, "mail-password-reset-en.png");

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
const asBasicAdmin = basic("admin", ADMIN_TOKEN);

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(1, 4).toString("latin1")).toBe("PNG");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const count = (html: string, pattern: RegExp) => (html.match(new RegExp(pattern.source, "g")) ?? []).length;
const EMAIL_KINDS = KIND_NAMES.filter((k) => hasChannel(k, "email"));

interface Server {
  app: HeraldHttpServer;
  base: string;
  close(): Promise<void>;
}

/**
 * The HTTP server with Redis unreachable (a real ioredis client pointed at a port nobody listens on):
 * the gallery renders from sample data and must not need it.
 */
async function startServer(renderer?: Renderer): Promise<Server> {
  const connection: Redis = createRedis("redis://127.0.0.1:1", "producer");
  connection.on("error", () => {});
  const prefix = uniquePrefix();
  const herald = new Herald({ redis: connection, prefix, encryptionKey: randomBytes(32) });
  const deadLetters = new DeadLetters(connection, prefix);
  const app = await createHttpServer({
    config: loadHttpConfig({ HERALD_API_TOKENS: TOKENS }),
    herald,
    deadLetters,
    connection,
    prefix,
    logger: createLogger({ level: "silent" }),
    metrics: new HeraldMetrics({ deadLetters, scrapeTimeoutMs: 300, processMetrics: false }),
    renderer,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    app,
    base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    async close() {
      await app.close();
      await herald.close();
      await deadLetters.close();
      connection.disconnect();
    },
  };
}

describe("preview gallery at /admin/previews (Redis unreachable)", () => {
  let server: Server;
  let app: HeraldHttpServer;

  beforeAll(async () => {
    // No renderer given: the gallery compiles the built-in templates on its first request.
    server = await startServer();
    app = server.app;
  });
  afterAll(async () => {
    await server?.close();
  });

  const get = (url: string, headers: Record<string, string> = asBasicAdmin) => app.inject({ method: "GET", url, headers });

  it("asks for credentials: 401 (HTTP Basic challenge) without, with a wrong user or an enqueue token as password; 403 for a Bearer enqueue token", async () => {
    for (const url of ["/admin/previews", "/admin/previews/password-reset/en.html", "/admin/previews/password-reset/en.txt"]) {
      for (const headers of [
        {},
        basic("admin", ENQUEUE_TOKEN),
        basic("root", ADMIN_TOKEN),
        basic("admin", "wrong-token-wrong-token"),
        { authorization: "Bearer not-a-token-at-all" },
      ]) {
        const res = await get(url, headers);
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers["www-authenticate"]).toBe('Basic realm="Herald"');
        expect(res.body).not.toContain("581634");
      }
      const enqueue = await get(url, asEnqueue);
      expect(enqueue.statusCode, url).toBe(403);
      expect(enqueue.headers["www-authenticate"]).toContain('error="insufficient_scope"');
      expect(enqueue.body).not.toContain("581634");
    }
  });

  it("answers an admin by HTTP Basic or Bearer: by default every kind in English, SMS with segments and encoding", async () => {
    for (const headers of [asBasicAdmin, asAdmin]) {
      const res = await get("/admin/previews", headers);
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      const csp = String(res.headers["content-security-policy"]);
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain("script-src");
      expect(res.headers["cache-control"]).toBe("no-store");
      const html = res.body;
      for (const kind of KIND_NAMES) expect(html).toContain(`data-kind="${kind}" data-locale="en"`);
      expect(count(html, /<article /)).toBe(KIND_NAMES.length);
      // 9 email kinds: one HTML frame and one text part each
      expect(EMAIL_KINDS).toHaveLength(9);
      expect(count(html, /<iframe /)).toBe(EMAIL_KINDS.length);
      expect(count(html, /<pre /)).toBe(EMAIL_KINDS.length);
      expect(html).toContain('src="/admin/previews/password-reset/en.html"');
      expect(html).toMatch(/sandbox="allow-popups allow-popups-to-escape-sandbox"/);
      expect(html).toContain("Reset your Acme ID password");
      expect(html).toContain("https://login.acme.example/ui/password/reset?userID=user-4711&amp;code=581634");
      // phone-verification, password-reset (channel "sms") and otp-sms have an SMS
      expect(count(html, /class="bubble"/)).toBe(3);
      expect(html).toContain("904512 is your Acme ID sign-in code. Valid for 1 hour. Never share it.");
      expect(html).toContain("739204 is your Acme ID verification code. Valid for 1 hour.");
      expect(html).toContain('data-segments="1" data-encoding="GSM-7">1 segment, GSM-7, 59 of 160 septets');
      expect(html).not.toMatch(/<script/i);
    }
  });

  it("filters by locale and kind in the query string; all of them only when asked", async () => {
    const one = await get("/admin/previews?locale=ar&kind=password-reset");
    expect(one.statusCode).toBe(200);
    expect(count(one.body, /<article /)).toBe(1);
    expect(count(one.body, /<iframe /)).toBe(1);
    expect(one.body).toContain('src="/admin/previews/password-reset/ar.html"');
    expect(one.body).toContain("right to left");
    expect(one.body).toMatch(/<pre lang="ar" dir="rtl">/);
    expect(one.body).toMatch(/<p class="bubble" lang="ar" dir="rtl">/);
    expect(one.body).toMatch(/data-encoding="UCS-2">\d segments?, UCS-2/);
    expect(one.body).toContain('<option value="ar" selected>');

    const sms = await get("/admin/previews?locale=de,ar&kind=phone-verification");
    expect(count(sms.body, /<article /)).toBe(2);
    expect(count(sms.body, /<iframe /)).toBe(0);
    expect(count(sms.body, /class="bubble"/)).toBe(2);

    const all = await get("/admin/previews?locale=all&kind=all");
    const locales = (await createRenderer()).locales;
    expect(locales.length).toBe(12);
    expect(count(all.body, /<article /)).toBe(KIND_NAMES.length * 12);
    expect(count(all.body, /<iframe /)).toBe(EMAIL_KINDS.length * 12);
    expect(count(all.body, /loading="lazy"/)).toBe(EMAIL_KINDS.length * 12);

    const wrong = await get("/admin/previews?locale=xx&kind=newsletter");
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain("unknown locale xx");
    expect(count(wrong.body, /<article /)).toBe(0);
  });

  it("serves each mail's HTML part under a CSP without scripts, and its text part", async () => {
    const html = await get("/admin/previews/password-reset/de.html");
    expect(html.statusCode).toBe(200);
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8");
    const csp = String(html.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect(csp).toMatch(/sandbox(?![^;]*allow-scripts)/);
    expect(html.body).toMatch(/<html lang="de" dir="ltr"/);
    expect(html.body).toContain("581634");
    expect(html.body).toContain("Hallo Ada");

    const text = await get("/admin/previews/email-verification/en.txt", asAdmin);
    expect(text.statusCode).toBe(200);
    expect(text.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(text.body).toContain("https://login.acme.example/ui/verify-email?userID=user-4711&code=482915");

    for (const url of [
      "/admin/previews/phone-verification/en.html",
      "/admin/previews/password-reset/xx.html",
      "/admin/previews/password-reset/en.pdf",
      "/admin/previews/newsletter/en.html",
    ]) {
      expect((await get(url)).statusCode, url).toBe(404);
    }
  });
});

describe("preview gallery in a real browser (headless Chromium)", () => {
  let server: Server;
  let scripted: Server;
  let browser: Browser;
  let admin: BrowserContext;

  const { missing, need: needBrowser, launch } = browserUnderTest("gallery");

  it("has a Chromium to drive", () => {
    expect(missing, missing).toBeUndefined();
  });

  beforeAll(async () => {
    const renderer = await createRenderer();
    server = await startServer(renderer);
    // The same renderer, but its mails carry a script, as a careless template override might: the CSP must stop it.
    scripted = await startServer({
      ...renderer,
      locales: renderer.locales,
      email: (input) => {
        const mail = renderer.email(input);
        return { ...mail, html: mail.html.replace("</body>", `<script>document.title = "script ran"; document.body.dataset.script = "ran";</script></body>`) };
      },
    });
    const launched = await launch();
    if (launched) {
      browser = launched;
      admin = await browser.newContext({ httpCredentials: { username: "admin", password: ADMIN_TOKEN }, viewport: { width: 1280, height: 900 } });
    }
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await scripted?.close();
  });

  it("turns away a browser with an enqueue token as password", async () => {
    needBrowser();
    const context = await browser.newContext({ httpCredentials: { username: "admin", password: ENQUEUE_TOKEN } });
    const page = await context.newPage();
    const response = await page.goto(`${server.base}/admin/previews`);
    expect(response?.status()).toBe(401);
    expect(await page.locator("body").innerText()).not.toContain("Message previews");
    await context.close();
  });

  it("logs in, shows the gallery with the mails in their frames, opens one mail and photographs it", async () => {
    needBrowser();
    const page = await admin.newPage();
    const response = await page.goto(`${server.base}/admin/previews`);
    expect(response?.status()).toBe(200);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).innerText()).toBe("Herald · message previews");
    expect(await page.locator("article.preview").count()).toBe(KIND_NAMES.length);
    // The sandboxed frame loads the mail (the browser sends its Basic credentials for it too).
    const frame = page.frameLocator("#password-reset-en iframe");
    await expect.poll(() => frame.getByText("581634", { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => frame.getByRole("link", { name: "Reset password" }).count()).toBe(1);
    expect(await page.locator("#phone-verification-en .segments").innerText()).toBe("1 segment, GSM-7, 59 of 160 septets");

    // Filter with the form, as a person would.
    await page.locator("select[name=locale]").selectOption("ar");
    await page.locator("select[name=kind]").selectOption("password-reset");
    await Promise.all([page.waitForURL(/locale=ar&kind=password-reset/), page.getByRole("button", { name: "Show" }).click()]);
    expect(await page.locator("article.preview").count()).toBe(1);
    const arabic = page.frameLocator("#password-reset-ar iframe");
    await expect.poll(() => arabic.locator('html[dir="rtl"][lang="ar"]').count(), { timeout: 15_000 }).toBe(1);

    // Open one mail on its own.
    await page.goto(`${server.base}/admin/previews`);
    const [mail] = await Promise.all([page.waitForEvent("popup"), page.locator("#password-reset-en figure.html figcaption a").click()]);
    await mail.waitForLoadState("load");
    expect(mail.url()).toBe(`${server.base}/admin/previews/password-reset/en.html`);
    expect(await mail.getByText("Reset your password", { exact: true }).count()).toBe(1);
    expect(await mail.locator('html[lang="en"][dir="ltr"]').count()).toBe(1);
    await mail.setViewportSize({ width: MAIL_WIDTH, height: 400 });
    mkdirSync(dirname(MAIL_SCREENSHOT), { recursive: true });
    await mail.screenshot({ path: MAIL_SCREENSHOT, fullPage: true });
    const size = pngSize(MAIL_SCREENSHOT);
    expect(size.width).toBe(MAIL_WIDTH);
    expect(size.height).toBeGreaterThan(400);
    expect(statSync(MAIL_SCREENSHOT).size).toBeLessThan(200 * 1024);
    await page.close();
  });

  it("a script in a mail does not run, neither in the gallery's frame nor opened on its own", async () => {
    needBrowser();
    const page = await admin.newPage();
    const blocked: string[] = [];
    page.on("console", (message) => blocked.push(message.text()));
    const response = await page.goto(`${scripted.base}/admin/previews/email-verification/en.html`);
    expect(response?.status()).toBe(200);
    const served = await response!.text();
    expect(served).toContain('document.title = "script ran"');
    await page.getByText("Verify your email address").first().waitFor();
    expect(await page.title()).toBe("Verify your email address for Acme ID");
    expect(await page.locator("body[data-script]").count()).toBe(0);
    expect(blocked.join("\n")).toMatch(/Blocked script execution|Content Security Policy/);

    await page.goto(`${scripted.base}/admin/previews?kind=email-verification`);
    const frame = page.frameLocator("#email-verification-en iframe");
    await expect.poll(() => frame.getByText("482915", { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    expect(await frame.locator("body[data-script]").count()).toBe(0);

    // The control: the same HTML without Herald's headers does run its script, so the test above can fail.
    const bare = await browser.newPage();
    await bare.setContent(served);
    expect(await bare.title()).toBe("script ran");
    await bare.close();
    await page.close();
  });

  it(`writes the README's pictures: each email kind in ${IMAGE_LOCALES.join(", ")}, mail-wide, cropped to the mail, small; and the SMS`, {
    timeout: 120_000,
  }, async () => {
    needBrowser();
    const files = await writePreviewImages({ dir: IMAGES, browser });
    expect(files.map((f) => f.slice(IMAGES.length + 1)).sort()).toEqual(
      [...IMAGE_KINDS.flatMap((k) => IMAGE_LOCALES.map((l) => `${k}-${l}.png`)), SMS_IMAGE].sort(),
    );
    const sms = files.pop()!;
    expect(sms.endsWith(SMS_IMAGE)).toBe(true);
    expect(pngSize(sms).height).toBeGreaterThan(250);
    expect(statSync(sms).size).toBeLessThan(200 * 1024);
    for (const file of files) {
      const { width, height } = pngSize(file);
      expect(width, file).toBe(MAIL_WIDTH);
      // the page is the mail: no empty viewport below it
      expect(height, file).toBeGreaterThan(450);
      expect(height, file).toBeLessThan(900);
      expect(statSync(file).size, file).toBeLessThan(200 * 1024);
    }
  });
});
