/**
 * The README's mail pictures: each email kind in English, German and Arabic, rendered by the real renderer
 * from the preview sample data and photographed in headless Chromium at a mail client's width.
 *
 *   npx tsx scripts/preview-images.ts [out-dir]      (default docs/images/previews)
 *
 * HERALD_CHROMIUM points at another Chromium binary (default /usr/bin/chromium).
 */
import { mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { hasChannel, KIND_NAMES, parseJob, resolveLink, type KindName } from "../src/contracts/index.js";
import { sampleJob } from "../src/templates/samples.js";
import { directionOf } from "../src/templates/locale.js";
import { createRenderer, type Renderer } from "../src/templates/renderer.js";
import { describeSegments, smsSegments } from "../src/templates/sms-segments.js";

export const CHROMIUM = process.env.HERALD_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
export const IMAGE_KINDS = KIND_NAMES.filter((k) => hasChannel(k, "email"));
export const IMAGE_LOCALES = ["en", "de", "ar"];
/** Wide enough for the 600 px mail column with a margin of its background either side, as in a mail client. */
export const MAIL_WIDTH = 640;

export interface ImageOptions {
  dir: string;
  kinds?: readonly KindName[];
  locales?: readonly string[];
  /** An open browser to use (left open); default: one launched and closed here. */
  browser?: Browser;
  renderer?: Renderer;
  /** Clock for the sample's expiry (one hour ahead of it). */
  now?: number;
}

/** The SMS picture's file name. */
export const SMS_IMAGE = "sms-phone-verification.png";

const escapeHtml = (value: string) => value.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** A phone-width page with the phone-verification SMS in each locale, as message bubbles with their segment count. */
function smsPage(renderer: Renderer, locales: readonly string[], now: number): string {
  const bubbles = locales.map((locale) => {
    const job = parseJob("phone-verification", sampleJob("phone-verification", { locale, now }));
    const sms = renderer.sms({ kind: "phone-verification", job, now });
    const dir = directionOf(sms.locale);
    return `<figure><figcaption>${escapeHtml(sms.locale)}</figcaption><p lang="${escapeHtml(sms.locale)}" dir="${dir}" class="${dir}">${escapeHtml(sms.body)}</p><small>${escapeHtml(describeSegments(smsSegments(sms.body)))}</small></figure>`;
  });
  return `<!doctype html><html lang="en"><meta charset="utf-8"><style>
body { margin: 0; padding: 16px 16px 8px; width: 360px; background: #f3f4f6; font: 15px/1.4 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111827; }
figure { margin: 0 0 14px; }
figcaption { font-size: 12px; color: #4b5563; margin: 0 0 4px 4px; }
p { margin: 0; padding: 9px 13px; border-radius: 18px; background: #ffffff; box-shadow: 0 1px 1px rgb(0 0 0 / 8%); width: fit-content; max-width: 300px; }
p.rtl { margin-inline-start: auto; }
small { display: block; font-size: 11px; color: #6b7280; margin: 3px 4px 0; }
</style><body>${bubbles.join("")}</body></html>`;
}

/** Writes `<kind>-<locale>.png` for each kind and locale, and the SMS picture; returns the files written. */
export async function writePreviewImages(opts: ImageOptions): Promise<string[]> {
  const renderer = opts.renderer ?? (await createRenderer());
  const browser = opts.browser ?? (await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }));
  const now = opts.now ?? Date.now();
  mkdirSync(opts.dir, { recursive: true });
  const files: string[] = [];
  // No scripts (a mail has none to run) and no network: what shows is the mail alone, the same on every machine.
  const context = await browser.newContext({ viewport: { width: MAIL_WIDTH, height: 400 }, deviceScaleFactor: 1, javaScriptEnabled: false });
  await context.route("**/*", (route) => route.abort());
  try {
    const page = await context.newPage();
    for (const kind of opts.kinds ?? IMAGE_KINDS) {
      for (const locale of opts.locales ?? IMAGE_LOCALES) {
        const job = parseJob(kind, sampleJob(kind, { locale, now }));
        const mail = renderer.email({ kind, job, link: resolveLink(job), now });
        await page.setContent(mail.html, { waitUntil: "load" });
        const file = join(opts.dir, `${kind}-${locale}.png`);
        // The page is exactly the mail: its height is the content's, its width the viewport's.
        await page.screenshot({ path: file, fullPage: true });
        files.push(file);
      }
    }
    await page.setViewportSize({ width: 392, height: 200 });
    await page.setContent(smsPage(renderer, opts.locales ?? IMAGE_LOCALES, now), { waitUntil: "load" });
    const sms = join(opts.dir, SMS_IMAGE);
    await page.screenshot({ path: sms, fullPage: true });
    files.push(sms);
  } finally {
    await context.close();
    if (!opts.browser) await browser.close();
  }
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = resolve(process.argv[2] ?? join(import.meta.dirname, "../docs/images/previews"));
  const files = await writePreviewImages({ dir });
  for (const file of files) console.log(`${file} (${Math.round(statSync(file).size / 1024)} KB)`);
}
