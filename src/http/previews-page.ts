// The preview gallery's page (HTML and CSS) and the sample renders it shows; its routes are in previews.ts.
import { hasChannel, KIND_NAMES, kindDefinition, parseJob, resolveLink, type KindName } from "../contracts/index.js";
import { directionOf } from "../templates/locale.js";
import type { Renderer } from "../templates/renderer.js";
import { sampleJob } from "../templates/samples.js";
import { describeSegments, smsSegments } from "../templates/sms-segments.js";

export const PREVIEWS_PATH = "/admin/previews";

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** "Deutsch (German)" for de; "English" for en. */
function localeName(locale: string): string {
  try {
    const own = new Intl.DisplayNames([locale], { type: "language" }).of(locale);
    const english = new Intl.DisplayNames(["en"], { type: "language" }).of(locale);
    return own && english && own !== english ? `${own} (${english})` : (english ?? locale);
  } catch {
    return locale;
  }
}

function subUrl(kind: string, locale: string, ext: "html" | "txt", tenant: string | undefined): string {
  return `${PREVIEWS_PATH}/${kind}/${locale}.${ext}${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`;
}

export function renderEmail(renderer: Renderer, kind: KindName, locale: string, tenant: string | undefined, now: number) {
  const job = parseJob(kind, sampleJob(kind, { locale, tenant, now }));
  return renderer.email({ kind, job, link: resolveLink(job), now });
}

function renderSms(renderer: Renderer, kind: KindName, locale: string, tenant: string | undefined, now: number) {
  const job = parseJob(kind, sampleJob(kind, { locale, tenant, channel: "sms", now }));
  const sms = renderer.sms({ kind, job, now });
  return { ...sms, segments: smsSegments(sms.body) };
}

export interface GalleryView {
  locales: string[];
  kinds: KindName[];
  tenant?: string;
  error?: string;
  now: number;
}

export function galleryPage(r: Renderer, view: GalleryView): string {
  const option = (value: string, label: string, selected: string) =>
    `<option value="${escapeHtml(value)}"${value === selected ? " selected" : ""}>${escapeHtml(label)}</option>`;
  // A list given in the URL (?locale=de,ar) gets an option of its own, so the form shows what the page shows.
  const selection = (values: readonly string[], all: readonly string[]) => (values.length === all.length && all.length > 1 ? "all" : values.join(","));
  const selectedLocale = selection(view.locales, r.locales);
  const selectedKind = selection(view.kinds, KIND_NAMES);
  const listOption = (selected: string, all: readonly string[]) =>
    selected.includes(",") && selected !== "all" && !all.includes(selected) ? option(selected, selected.replaceAll(",", ", "), selected) : "";
  const count = view.kinds.reduce((n, k) => n + (hasChannel(k, "email") ? view.locales.length : 0), 0);

  const form = `<form method="get" action="${PREVIEWS_PATH}">
  <label>Locale <select name="locale">${listOption(selectedLocale, r.locales)}${option("all", `All ${r.locales.length} locales`, selectedLocale)}${r.locales.map((l) => option(l, `${l} · ${localeName(l)}`, selectedLocale)).join("")}</select></label>
  <label>Kind <select name="kind">${listOption(selectedKind, KIND_NAMES)}${option("all", "All kinds", selectedKind)}${KIND_NAMES.map((k) => option(k, k, selectedKind)).join("")}</select></label>
  <label>Tenant <input name="tenant" value="${escapeHtml(view.tenant ?? "")}" placeholder="sample (Acme ID)" size="14"></label>
  <button type="submit">Show</button>
</form>`;

  const sections = view.kinds.map((kind) => {
    const articles = view.locales.map((locale) => previewArticle(r, kind, locale, view));
    return `<section class="kind" id="${kind}">
  <h2>${kind}</h2>
  <p class="summary">${escapeHtml(kindDefinition(kind).summary)}</p>
  ${articles.join("\n")}
</section>`;
  });

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald · message previews</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>Herald · message previews</h1>
  <p>Every mail and SMS as Herald renders it, from sample data${view.tenant ? ` for tenant <code>${escapeHtml(view.tenant)}</code>` : ""}. Nothing is sent. ${count} mail${count === 1 ? "" : "s"} on this page.</p>
  ${form}
  ${view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : ""}
</header>
<main>
${sections.join("\n")}
</main>
</body>
</html>
`;
}

function previewArticle(r: Renderer, kind: KindName, locale: string, view: GalleryView): string {
  const dir = directionOf(locale);
  const parts: string[] = [];
  if (hasChannel(kind, "email")) {
    try {
      const mail = renderEmail(r, kind, locale, view.tenant, view.now);
      const title = `${kind} in ${locale}`;
      parts.push(`<div class="email">
    <p class="subject"><span class="label">Subject</span> <span lang="${escapeHtml(mail.locale)}" dir="${directionOf(mail.locale)}">${escapeHtml(mail.subject)}</span>${mail.from ? ` <span class="label">From</span> ${escapeHtml(mail.from)}` : ""}</p>
    <div class="parts">
      <figure class="html"><figcaption>HTML · <a href="${escapeHtml(subUrl(kind, locale, "html", view.tenant))}" target="_blank" rel="noopener">open</a></figcaption>
        <iframe src="${escapeHtml(subUrl(kind, locale, "html", view.tenant))}" title="${escapeHtml(title)} (HTML)" sandbox="allow-popups allow-popups-to-escape-sandbox" loading="lazy"></iframe></figure>
      <figure class="text"><figcaption>Text part · <a href="${escapeHtml(subUrl(kind, locale, "txt", view.tenant))}" target="_blank" rel="noopener">open</a></figcaption>
        <pre lang="${escapeHtml(mail.locale)}" dir="${directionOf(mail.locale)}">${escapeHtml(mail.text)}</pre></figure>
    </div>
  </div>`);
    } catch (error) {
      parts.push(`<p class="error">The mail does not render: ${escapeHtml((error as Error).message)}</p>`);
    }
  }
  if (hasChannel(kind, "sms")) {
    try {
      const sms = renderSms(r, kind, locale, view.tenant, view.now);
      parts.push(`<figure class="sms"><figcaption>SMS${kindDefinition(kind).channels[0] === "sms" ? "" : ' (channel "sms")'}</figcaption>
    <p class="bubble" lang="${escapeHtml(sms.locale)}" dir="${directionOf(sms.locale)}">${escapeHtml(sms.body)}</p>
    <p class="segments" data-segments="${sms.segments.segments}" data-encoding="${sms.segments.encoding}">${escapeHtml(describeSegments(sms.segments))}</p></figure>`);
    } catch (error) {
      parts.push(`<p class="error">The SMS does not render: ${escapeHtml((error as Error).message)}</p>`);
    }
  }
  return `<article class="preview" data-kind="${kind}" data-locale="${escapeHtml(locale)}" id="${kind}-${escapeHtml(locale)}">
  <h3>${escapeHtml(localeName(locale))} <code>${escapeHtml(locale)}</code>${dir === "rtl" ? ' <span class="tag">right to left</span>' : ""}</h3>
  ${parts.join("\n  ")}
</article>`;
}

const STYLE = `
:root { color-scheme: light; --line: #d1d5db; --muted: #4b5563; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; background: #fff; }
header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: #f9fafb; position: sticky; top: 0; z-index: 1; }
h1 { font-size: 20px; margin: 0 0 4px; }
header p { margin: 0 0 10px; color: var(--muted); }
form { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
label { font-weight: 600; font-size: 14px; }
select, input, button { font: inherit; margin-inline-start: 4px; }
button { padding: 3px 14px; }
main { padding: 8px 24px 48px; }
h2 { font-size: 18px; margin: 28px 0 2px; font-family: ui-monospace, monospace; }
.summary { margin: 0 0 12px; color: var(--muted); }
article { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
h3 { font-size: 15px; margin: 0 0 8px; }
.tag { font-size: 12px; font-weight: 600; background: #fef3c7; border-radius: 4px; padding: 1px 6px; }
.subject { margin: 0 0 8px; }
.label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin-inline-end: 4px; }
.parts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: var(--muted); margin-bottom: 4px; }
figure.html { flex: 0 0 auto; width: 642px; max-width: 100%; }
iframe { width: 100%; height: 760px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figure.text { flex: 1 1 320px; min-width: 0; }
/* Each line takes its own direction, as plain-text mail readers do: an Arabic line reads right to left, a link left to right. */
pre { unicode-bidi: plaintext; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.5 ui-monospace, "DejaVu Sans Mono", monospace; background: #f9fafb; border: 1px solid var(--line); border-radius: 4px; padding: 12px; max-height: 760px; overflow: auto; }
figure.sms { margin-top: 12px; max-width: 420px; }
.bubble { margin: 0; padding: 10px 14px; border-radius: 16px; background: #e5e7eb; white-space: pre-wrap; }
.segments { margin: 4px 0 0; font-size: 13px; color: var(--muted); }
.error { color: #991b1b; background: #fef2f2; border: 1px solid #fecaca; border-radius: 4px; padding: 6px 10px; }
`;
