import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { hasChannel, KIND_NAMES, type KindName } from "../contracts/index.js";
import type { Renderer } from "../templates/renderer.js";
import type { ApiAuth } from "./auth.js";
import { adminHook } from "./plugins/auth.js";
import { galleryPage, PREVIEWS_PATH, renderEmail } from "./previews-page.js";

export { PREVIEWS_PATH } from "./previews-page.js";

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

function common(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header("content-security-policy", csp)
    .header("cache-control", "no-store")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer");
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

/**
 * The preview gallery at /admin/previews: every kind in every locale, rendered from sample data by the
 * configured renderer (no Redis involved). Admin only: HTTP Basic like Bull Board (user admin, password an
 * admin token), or `Authorization: Bearer <admin token>`.
 *
 *   GET /admin/previews?locale=de,ar&kind=password-reset&tenant=acme   the gallery (default: English, every kind)
 *   GET /admin/previews/{kind}/{locale}.html                            one mail's HTML part (scripts blocked by CSP)
 *   GET /admin/previews/{kind}/{locale}.txt                             one mail's text part
 */
export const previews: FastifyPluginAsync<PreviewsOptions> = async (app, opts) => {
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

  app.addHook("onRequest", adminHook(opts.auth, { bearer: { forbidden: "Forbidden: the previews need an admin token.\n" } }));

  app.get(PREVIEWS_PATH, { schema: { hide: true } }, async (request, reply) => {
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

  app.get(`${PREVIEWS_PATH}/:kind/:file`, { schema: { hide: true } }, async (request, reply) => {
    const { kind, file } = request.params as { kind: string; file: string };
    const r = await renderer();
    const [, locale, extension] = /^([A-Za-z0-9-]+)\.(html|txt)$/.exec(file) ?? [];
    if (!EMAIL_KINDS.includes(kind as KindName) || locale === undefined || !r.locales.includes(locale)) {
      return common(reply.code(404), TEXT_CSP)
        .type("text/plain; charset=utf-8")
        .send(
          `No preview ${kind}/${file}: use /admin/previews/{kind}/{locale}.html or .txt with kind one of ${EMAIL_KINDS.join(", ")} and locale one of ${r.locales.join(", ")}.\n`,
        );
    }
    const mail = renderEmail(r, kind as KindName, locale, tenantOf((request.query as Record<string, unknown>).tenant), Date.now());
    if (extension === "txt") return common(reply, TEXT_CSP).type("text/plain; charset=utf-8").send(mail.text);
    return common(reply, MAIL_CSP).type("text/html; charset=utf-8").send(mail.html);
  });
};
