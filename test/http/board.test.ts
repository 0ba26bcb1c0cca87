import { tmpdir } from "node:os";
import { existsSync, mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserUnderTest } from "../support/chromium.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { ADMIN_TOKEN, asEnqueue, ENQUEUE_TOKEN, startApiHarness, type ApiHarness } from "../support/harness.js";

// The README's picture is refreshed only on request (HERALD_UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
const SCREENSHOT = process.env.HERALD_UPDATE_SCREENSHOTS
  ? join(dirname(fileURLToPath(import.meta.url)), "../../docs/images/bull-board.png")
  : join(tmpdir(), `herald-bull-board-${process.pid}.png`);

/** What the board must never show. */
const SECRETS = [
  "board1@example.com",
  "board2@example.com",
  "bounce@example.com",
  "+41791234567",
  "BOARDCODE1",
  "BOARDCODE2",
  "BOUNCECODE",
  "SMSCODE77",
  "login.acme.test",
  "Ada Lovelace",
];

describe("Bull Board in a real browser (headless Chromium)", () => {
  let smtp: SmtpTestServer;
  let h: ApiHarness;
  let browser: Browser;
  let base: string;
  const ids: Record<string, string> = {};

  const { missing, need: needBrowser, launch } = browserUnderTest("Bull Board");

  it("has a Chromium to drive", () => {
    expect(missing, missing).toBeUndefined();
  });

  beforeAll(async () => {
    smtp = await startSmtpServer();
    h = await startApiHarness({ env: { SMTP_URL: smtp.url, SMTP_FROM: "Acme ID <no-reply@acme.test>" } });
    await h.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;

    const enqueue = async (kind: string, payload: Record<string, unknown>) => {
      const res = await h.app.inject({ method: "POST", url: `/v1/notifications/${kind}`, headers: asEnqueue, payload });
      expect(res.statusCode).toBe(202);
      return res.json().id as string;
    };
    // Two delivered emails, one delivered SMS, one dead letter (SMTP 550), one email still waiting (SMTP held).
    let delivered = h.nextDelivery();
    ids.email = await enqueue("email-verification", {
      recipient: { userId: "u-b1", email: "board1@example.com", displayName: "Ada Lovelace", loginName: "board1@example.com" },
      code: "BOARDCODE1",
      url: "https://login.acme.test/v?c=BOARDCODE1",
      idempotencyKey: "verify:board1@example.com",
    });
    await delivered;
    delivered = h.nextDelivery();
    await enqueue("password-reset", {
      recipient: { userId: "u-b2", email: "board2@example.com" },
      code: "BOARDCODE2",
      urlTemplate: "https://login.acme.test/r?c={{code}}",
    });
    await delivered;
    delivered = h.nextDelivery();
    ids.sms = await enqueue("phone-verification", { recipient: { userId: "u-b3", phone: "+41791234567" }, code: "SMSCODE77" });
    await delivered;
    smtp.replyNext({ code: 550, message: "5.1.1 <bounce@example.com>: no such user" });
    const dead = h.nextDeadLetter();
    ids.dead = await enqueue("email-verification", {
      recipient: { userId: "u-b4", email: "bounce@example.com" },
      code: "BOUNCECODE",
      url: "https://login.acme.test/v?c=BOUNCECODE",
    });
    await dead;

    browser = (await launch())!;
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await smtp?.close();
  });

  // One logged-in context for every page, so the board's scripts load from its cache after the first.
  let admin: BrowserContext | undefined;
  async function adminPage(): Promise<Page> {
    needBrowser();
    admin ??= await browser.newContext({ httpCredentials: { username: "admin", password: ADMIN_TOKEN }, viewport: { width: 1280, height: 800 } });
    return admin.newPage();
  }

  /** Opens every collapsed node of the board's JSON views, so the page text holds all the data. */
  async function expandAll(page: Page) {
    await page.getByRole("treeitem").first().waitFor({ timeout: 10_000 });
    const collapsed = page.locator('[aria-label="expand JSON"]');
    for (let guard = 0; guard < 50 && (await collapsed.count()) > 0; guard++) await collapsed.first().click();
  }

  async function expectNoSecrets(page: Page) {
    const shown = await page.locator("body").innerText();
    for (const secret of SECRETS) expect(shown, `page shows ${secret}`).not.toContain(secret);
  }

  it("asks for HTTP Basic credentials: 401 with WWW-Authenticate without, with an enqueue token or a wrong user", async () => {
    for (const authorization of [
      undefined,
      `Basic ${Buffer.from(`admin:${ENQUEUE_TOKEN}`).toString("base64")}`,
      `Basic ${Buffer.from(`root:${ADMIN_TOKEN}`).toString("base64")}`,
      `Bearer ${ADMIN_TOKEN}`,
    ]) {
      const res = await fetch(`${base}/admin/queues`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Basic realm="Herald"');
    }
    const api = await fetch(`${base}/admin/queues/api/queues`, {});
    expect(api.status).toBe(401);

    // The browser with an enqueue token as password is turned away too.
    needBrowser();
    const context = await browser.newContext({ httpCredentials: { username: "admin", password: ENQUEUE_TOKEN } });
    const page = await context.newPage();
    const response = await page.goto(`${base}/admin/queues`);
    expect(response?.status()).toBe(401);
    await context.close();
  });

  it("logs in, shows the email, sms and dead-letter queues, and saves a screenshot", async () => {
    const page = await adminPage();
    const response = await page.goto(`${base}/admin/queues`);
    expect(response?.status()).toBe(200);
    for (const name of ["email", "sms", "dead-letter"]) {
      await expect.poll(() => page.getByText(name, { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    await expectNoSecrets(page);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    await page.close();
  });

  it("a delivered email's job page shows its data and result masked: no address, name, code or link", async () => {
    const page = await adminPage();
    await page.goto(`${base}/admin/queues/queue/email/${ids.email}`);
    await expandAll(page);
    const shown = await page.locator("body").innerText();
    expect(shown).toContain("u-b1");
    expect(shown).toMatch(/email:\s*"\[redacted\]"/);
    expect(shown).toMatch(/sealed:\s*"\[redacted\]"/);
    expect(shown).toMatch(/displayName:\s*"\[redacted\]"/);
    expect(shown).toContain("smtp"); // the result (provider, message id) is shown
    await expectNoSecrets(page);
    await page.close();
  });

  it("an SMS job and a dead letter are masked too, nested data included", async () => {
    const page = await adminPage();
    await page.goto(`${base}/admin/queues/queue/sms/${ids.sms}`);
    await expandAll(page);
    expect(await page.locator("body").innerText()).toMatch(/phone:\s*"\[redacted\]"/);
    expect(await page.locator("body").innerText()).toContain("u-b3");
    await expectNoSecrets(page);

    await page.goto(`${base}/admin/queues/queue/dead-letter/email-${ids.dead}`);
    await expandAll(page);
    const shown = await page.locator("body").innerText();
    expect(shown).toContain("u-b4");
    expect(shown).toContain("smtp-550");
    expect(shown).toMatch(/email:\s*"\[redacted\]"/);
    expect(shown).toMatch(/sealed:\s*"\[redacted\]"/);
    await expectNoSecrets(page);
    await page.close();
  });

  it("the board's JSON API masks the same way (what the page is built from)", async () => {
    const auth = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` };
    for (const [queue, id] of [
      ["email", ids.email],
      ["sms", ids.sms],
      ["dead-letter", `email-${ids.dead}`],
    ]) {
      const res = await fetch(`${base}/admin/queues/api/queues/${queue}/${id}`, { headers: auth });
      expect(res.status).toBe(200);
      const body = await res.text();
      for (const secret of SECRETS) expect(body, `${queue} job shows ${secret}`).not.toContain(secret);
      expect(body).not.toMatch(/"sealed":"[^[]/);
      if (queue === "email") expect(body).toContain("verify:[email]"); // the deduplication id, masked
    }
    const list = await (await fetch(`${base}/admin/queues/api/queues?activeQueue=email&status=completed&page=1&jobsPerPage=10`, { headers: auth })).text();
    for (const secret of SECRETS) expect(list).not.toContain(secret);
  });
});
