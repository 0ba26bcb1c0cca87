import type { FastifyInstance, FastifyReply } from "fastify";
import { hasChannel, KIND_NAMES, kindDefinition, parseJob, resolveLink, type KindName } from "../contracts/index.js";
import { sampleJob } from "../templates/samples.js";
import { directionOf } from "../templates/locale.js";
import type { Renderer } from "../templates/renderer.js";
import { describeSegments, smsSegments } from "../templates/sms-segments.js";
import type { ApiAuth } from "./auth.js";
import { BOARD_REALM } from "./board.js";

export const PREVIEWS_PATH = "/admin/previews";

export interface PreviewsOptions {
  auth: ApiAuth;
  /** The renderer as configured (tenants file, template overrides). Absent: the built-in templates, built on first use. */
  renderer?: Renderer;
}

/** The gallery page: no scripts at all, its own styles, frames from this server only. */
const GALLERY_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/**
 * A rendered mail: no scripts, no forms, no plugins (the CSP sandbox applies even when the page is opened
 * on its own, outside the gallery's sandboxed iframe). Images may load, as a tenant logo would in a mail client.
 */
export const MAIL_CSP =
  "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
const TEXT_CSP = "default-src 'none'; frame-ancestors 'self'; sandbox";

const EMAIL_KINDS = KIND_NAMES.filter((k) => hasChannel(k, "email"));

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function common(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header("content-security-policy", csp)
    .header("cache-control", "no-store")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer");
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

/** `?locale=de,ar` or `all`; `?kind=password-reset` or `all`. Unknown names are reported, not ignored. */
function pick<T extends string>(raw: unknown, all: readonly T[], fallback: readonly T[], what: string): { values: T[]; error?: string } {
  if (typeof raw !== "string" || raw.trim() === "") return { values: [...fallback] };
  const wanted = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.includes("all")) return { values: [...all] };
  const unknown = wanted.filter((w) => !all.includes(w as T));
  if (unknown.length) return { values: [], error: `unknown ${what} ${unknown.join(", ")}; choose from ${all.join(", ")} or all` };
  return { values: all.filter((v) => wanted.includes(v)) };
}

function tenantOf(raw: unknown): string | undefined {
  return typeof raw === "string" && raw.trim() !== "" ? raw.trim().slice(0, 200) : undefined;
}

function subUrl(kind: string, locale: string, ext: "html" | "txt", tenant: string | undefined): string {
  return `${PREVIEWS_PATH}/${kind}/${locale}.${ext}${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`;
}

function renderEmail(renderer: Renderer, kind: KindName, locale: string, tenant: string | undefined, now: number) {
  const job = parseJob(kind, sampleJob(kind, { locale, tenant, now }));
  return renderer.email({ kind, job, link: resolveLink(job), now });
}

function renderSms(renderer: Renderer, kind: KindName, locale: string, tenant: string | undefined, now: number) {
  const job = parseJob(kind, sampleJob(kind, { locale, tenant, channel: "sms", now }));
  const sms = renderer.sms({ kind, job, now });
  return { ...sms, segments: smsSegments(sms.body) };
}

/**
 * The preview gallery at /admin/previews: every kind in every locale, rendered from sample data by the
 * configured renderer (no Redis involved). Admin only: HTTP Basic like Bull Board (user admin, password an
 * admin token), or `Authorization: Bearer <admin token>`.
 *
 *   GET /admin/previews?locale=de,ar&kind=password-reset&tenant=acme   the gallery (default: English, every kind)
 *   GET /admin/previews/{kind}/{locale}.html                            one mail's HTML part (scripts blocked by CSP)
 *   GET /admin/previews/{kind}/{locale}.txt                             one mail's text part
 */
export async function registerPreviews(app: FastifyInstance, opts: PreviewsOptions): Promise<void> {
  let building: Promise<Renderer> | undefined;
  const renderer = (): Promise<Renderer> => {
    if (opts.renderer) return Promise.resolve(opts.renderer);
    building ??= import("../templates/renderer.js")
      .then((m) => m.createRenderer())
      .catch((error: unknown) => {
        building = undefined;
        throw error;
      });
    return building;
  };

  await app.register(async (scope) => {
    scope.addHook("onRequest", async (request, reply) => {
      const authorization = request.headers.authorization;
      if (opts.auth.isAdminBasic(authorization)) return;
      const bearer = /^Bearer[ \t]/i.test(authorization ?? "") ? opts.auth.scopeOfBearer(authorization) : undefined;
      if (bearer === "admin") return;
      if (bearer) {
        return reply
          .code(403)
          .header("www-authenticate", 'Bearer realm="Herald", error="insufficient_scope", scope="admin"')
          .type("text/plain; charset=utf-8")
          .send("Forbidden: the previews need an admin token.\n");
      }
      return reply
        .code(401)
        .header("www-authenticate", BOARD_REALM)
        .type("text/plain; charset=utf-8")
        .send("Authentication required: user admin, password an admin API token.\n");
    });

    scope.get(PREVIEWS_PATH, { schema: { hide: true } }, async (request, reply) => {
      const r = await renderer();
      const query = request.query as Record<string, unknown>;
      const locales = pick(query.locale, r.locales, r.locales.includes("en") ? ["en"] : r.locales.slice(0, 1), "locale");
      const kinds = pick(query.kind, KIND_NAMES, KIND_NAMES, "kind");
      const tenant = tenantOf(query.tenant);
      const error = locales.error ?? kinds.error;
      const body = galleryPage(r, { locales: locales.values, kinds: kinds.values, tenant, error, now: Date.now() });
      return common(reply.code(error ? 400 : 200), GALLERY_CSP)
        .type("text/html; charset=utf-8")
        .send(body);
    });

    scope.get(`${PREVIEWS_PATH}/:kind/:file`, { schema: { hide: true } }, async (request, reply) => {
      const { kind, file } = request.params as { kind: string; file: string };
      const r = await renderer();
      const match = /^([A-Za-z0-9-]+)\.(html|txt)$/.exec(file);
      if (!EMAIL_KINDS.includes(kind as KindName) || !match || !r.locales.includes(match[1])) {
        return common(reply.code(404), TEXT_CSP)
          .type("text/plain; charset=utf-8")
          .send(
            `No preview ${kind}/${file}: use /admin/previews/{kind}/{locale}.html or .txt with kind one of ${EMAIL_KINDS.join(", ")} and locale one of ${r.locales.join(", ")}.\n`,
          );
      }
      const mail = renderEmail(r, kind as KindName, match[1], tenantOf((request.query as Record<string, unknown>).tenant), Date.now());
      if (match[2] === "txt") return common(reply, TEXT_CSP).type("text/plain; charset=utf-8").send(mail.text);
      return common(reply, MAIL_CSP).type("text/html; charset=utf-8").send(mail.html);
    });
  });
}

interface GalleryView {
  locales: string[];
  kinds: KindName[];
  tenant?: string;
  error?: string;
  now: number;
}

function galleryPage(r: Renderer, view: GalleryView): string {
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
