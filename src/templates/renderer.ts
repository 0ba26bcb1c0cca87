import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { convert } from "html-to-text";
import mjml2html from "mjml";
import { isKindName, isTextRef, KIND_NAMES, kindDefinition, type AnyJob, type KindName, type LooseJob } from "../contracts/index.js";
import { directionOf, formatTime, formatValidity, pickLocale } from "./locale.js";
import { compileText, loadCatalog, messagesFor, type Catalog, type TextTemplate } from "./messages.js";
import { sanitizeCustomHtml, stripCustomHtml } from "./safe-html.js";
import { loadTenants, type TenantDirectory, type TenantSettings } from "./tenants.js";

export interface Branding {
  primaryColor: string;
  backgroundColor: string;
  fontColor: string;
  buttonTextColor: string;
  logoUrl?: string;
  productName: string;
}

export const DEFAULT_BRANDING: Branding = {
  primaryColor: "#2563eb",
  backgroundColor: "#f3f4f6",
  fontColor: "#111827",
  buttonTextColor: "#ffffff",
  productName: "Herald",
};

export interface RenderInput {
  kind: KindName;
  job: AnyJob;
  /** The finished link (url, or urlTemplate filled in); absent for SMS. */
  link?: string;
  now?: number;
}

export interface RenderedEmail {
  locale: string;
  subject: string;
  html: string;
  text: string;
  /** The tenant's sender, when its settings name one. */
  from?: string;
}

export interface RenderedSms {
  locale: string;
  body: string;
}

export interface Renderer {
  readonly locales: readonly string[];
  /** Things worth one log line at start-up (e.g. texts that fall back to English). */
  readonly warnings: readonly string[];
  /** The tenants in the tenants file (none without one). */
  readonly tenantIds: readonly string[];
  email(input: RenderInput): RenderedEmail;
  sms(input: RenderInput): RenderedSms;
}

export interface RendererOptions {
  branding?: Partial<Branding>;
  catalog?: Catalog;
  /** YAML file with per-tenant branding, sender, default locale and texts. */
  tenantsFile?: string;
  /** Folder with `layout.mjml` and/or `<kind>.mjml` replacing the built-in ones. */
  templatesDir?: string;
  /**
   * Told about every job that names a tenant the tenants file does not have (a typo, or a tenant not yet
   * added): it is rendered with the defaults and the job's own branding, so the mistake must be said.
   */
  onUnknownTenant?: (tenantId: string, kind: KindName) => void;
}

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

const BUILT_IN = new URL("./", import.meta.url);
const BODY_MARKER = "<!-- herald:body -->";

// MJML validates colour attributes, so the layout carries these stand-ins, swapped for placeholders after compiling.
const COLOR_STANDINS: Record<string, string> = {
  "#0f0f01": "{{color.primary}}",
  "#0f0f02": "{{color.background}}",
  "#0f0f03": "{{color.font}}",
  "#0f0f04": "{{color.buttonText}}",
};
const STANDIN = /#0f0f0[1-4]/gi;

const hbs = Handlebars.create();

interface Source {
  text: string;
  /** Where it came from, for error messages: a built-in name or an override file path. */
  file: string;
}

interface CompiledKind {
  html: HandlebarsTemplateDelegate;
  text: TextTemplate;
}

/** One message text, ready for both parts: HTML (markup-safe) and plain (text part, subject, SMS). */
interface CompiledText {
  plain: TextTemplate;
  html: (vars: Record<string, unknown>) => string;
}

function readSource(dir: string | undefined, name: string, builtIn: string): Source {
  const override = dir ? join(dir, name) : undefined;
  if (override && existsSync(override)) return { text: readFileSync(override, "utf8"), file: override };
  return { text: readFileSync(new URL(builtIn, BUILT_IN), "utf8"), file: `built-in ${builtIn}` };
}

/** Maps a line of layout-with-body back to the file it came from. */
function locate(line: number, layout: Source, body: Source, bodyAt: number): string {
  const bodyLines = body.text.split("\n").length;
  if (line < bodyAt) return `${layout.file} line ${line}`;
  if (line < bodyAt + bodyLines) return `${body.file} line ${line - bodyAt + 1}`;
  return `${layout.file} line ${line - bodyLines + 1}`;
}

async function compileEmail(layout: Source, body: Source): Promise<CompiledKind> {
  const at = layout.text.indexOf(BODY_MARKER);
  if (at < 0) throw new TemplateError(`${layout.file}: the layout must contain ${BODY_MARKER} where each kind's body goes`);
  const bodyAt = layout.text.slice(0, at).split("\n").length;
  const source = layout.text.replace(BODY_MARKER, body.text);
  let result: Awaited<ReturnType<typeof mjml2html>>;
  try {
    // No web fonts: MJML would otherwise load Google Fonts in every mail (a tracking request, and a remote resource).
    result = await mjml2html(source, { validationLevel: "strict", keepComments: false, fonts: {} });
  } catch (error) {
    // strict validation throws with every error listed
    const details = (error as { errors?: { line: number; message: string }[] }).errors;
    if (details?.length) throw new TemplateError(details.map((d) => `${locate(d.line, layout, body, bodyAt)}: ${d.message}`).join("; "));
    throw new TemplateError(`${body.file}: ${(error as Error).message}`);
  }
  if (result.errors?.length) {
    throw new TemplateError(result.errors.map((e) => `${locate(e.line, layout, body, bodyAt)}: ${e.message}`).join("; "));
  }
  // MJML writes left-to-right into every section's inline style; make the direction follow the locale.
  const html = result.html
    .replace(STANDIN, (c) => COLOR_STANDINS[c.toLowerCase()])
    .replace(/direction:ltr/g, "direction:{{dir}}")
    .replace(/text-align:left/g, "text-align:{{align}}")
    .replace(/align="left"/g, 'align="{{align}}"');
  // The plain-text part is derived from the same compiled mail once, here, so the two parts never drift apart.
  const text = convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      // The preheader is an inbox preview, hidden in the HTML part; the text part starts with the title.
      { selector: "div[style*='display:none']", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
      // The text part spells the link out once, on its own line; the button's copy of it would be noise.
      { selector: "a[target]", format: "anchor", options: { ignoreHref: true } }, // mj-button sets target; the fallback link has none
      { selector: "table", format: "block" },
      { selector: "tr", format: "block" },
      { selector: "td", format: "block" },
    ],
  });
  try {
    return {
      html: hbs.compile(html, { knownHelpersOnly: true, strict: false }),
      text: compileText(text.replace(/\n{3,}/g, "\n\n").trim() + "\n", `${body.file} (text part)`),
    };
  } catch (error) {
    throw new TemplateError(`${body.file} or ${layout.file}: ${(error as Error).message}`);
  }
}

function builtInText(source: string, where: string): CompiledText {
  const plain = compileText(source, where);
  return { plain, html: (vars) => hbs.escapeExpression(plain(vars)) };
}

/** A tenant's own text may carry the safe HTML subset; values inserted into it are escaped all the same. */
function customText(source: string, where: string): CompiledText {
  const plain = compileText(stripCustomHtml(source), where);
  let html: HandlebarsTemplateDelegate;
  try {
    html = hbs.compile(sanitizeCustomHtml(source), { knownHelpersOnly: true, strict: false });
    html({});
  } catch (error) {
    throw new TemplateError(`${where}: ${(error as Error).message}`);
  }
  return { plain, html };
}

/** Compiles the layout, every kind's body and every locale's texts once; rendering a job then only fills in values. */
export async function createRenderer(opts: RendererOptions = {}): Promise<Renderer> {
  const defaults = { ...DEFAULT_BRANDING, ...opts.branding };
  const catalog = opts.catalog ?? loadCatalog();
  const locales = new Set(catalog.keys());
  const warnings: string[] = [];

  if (opts.templatesDir) {
    const known = new Set(["layout.mjml", ...KIND_NAMES.map((k) => `${k}.mjml`)]);
    const unknown = readdirSync(opts.templatesDir).filter((f) => f.endsWith(".mjml") && !known.has(f));
    if (unknown.length) throw new TemplateError(`${opts.templatesDir}: unknown template file(s) ${unknown.join(", ")}; expected ${[...known].join(", ")}`);
  }
  const layout = readSource(opts.templatesDir, "layout.mjml", "layout.mjml");
  const emails = new Map<KindName, CompiledKind>();
  for (const kind of KIND_NAMES) {
    const def = kindDefinition(kind);
    if (!def.channels.includes("email")) continue;
    emails.set(kind, await compileEmail(layout, readSource(opts.templatesDir, `${kind}.mjml`, `kinds/${kind}.mjml`)));
  }

  const english = catalog.get("en")!;
  const keysOf = (kind: string) => new Set([...Object.keys(english.common ?? {}), ...(isKindName(kind) ? kindDefinition(kind).textKeys : [])]);
  const texts = new Map<string, Record<string, CompiledText>>();
  for (const locale of locales) {
    const own = catalog.get(locale)!;
    for (const kind of KIND_NAMES) {
      const missing = [...keysOf(kind)].filter((key) => own[kind]?.[key] === undefined && own.common?.[key] === undefined);
      if (locale !== "en" && missing.length) warnings.push(`messages/${locale}.json has no ${kind} text for ${missing.join(", ")}: English is used for those`);
      const set = messagesFor(catalog, locale, kind);
      texts.set(
        `${locale}|${kind}`,
        Object.fromEntries(Object.entries(set).map(([key, source]) => [key, builtInText(source, `messages/${locale}.json ${kind}.${key}`)])),
      );
    }
  }

  const tenants: TenantDirectory = opts.tenantsFile ? loadTenants(opts.tenantsFile, keysOf) : new Map();
  // tenant|kind|locale → the tenant's own texts, compiled like the built-in ones.
  const tenantTexts = new Map<string, Record<string, CompiledText>>();
  for (const [id, tenant] of tenants) {
    for (const [kind, byLocale] of Object.entries(tenant.texts ?? {})) {
      for (const [locale, set] of Object.entries(byLocale)) {
        tenantTexts.set(
          `${id}|${kind}|${locale}`,
          Object.fromEntries(Object.entries(set).map(([key, source]) => [key, customText(source, `tenants.${id}.texts.${kind}.${locale}.${key}`)])),
        );
      }
    }
  }

  function prepare(input: RenderInput) {
    const { kind } = input;
    const job: LooseJob = input.job;
    const tenant: TenantSettings | undefined = job.tenant?.id ? tenants.get(job.tenant.id) : undefined;
    if (job.tenant?.id && !tenant && opts.tenantsFile) opts.onUnknownTenant?.(job.tenant.id, kind);
    const locale = pickLocale(job.recipient.locale ?? tenant?.defaultLocale, locales);
    // Built-in defaults < the tenants file < the job: the job's own values win.
    const brand: Branding = { ...defaults, ...stripUndefined(tenant?.branding ?? {}), ...stripUndefined(job.tenant?.branding ?? {}) };
    if (!job.tenant?.branding?.productName && !tenant?.branding?.productName && job.tenant?.name) brand.productName = job.tenant.name;
    const vars: Record<string, unknown> = {
      name: job.recipient.firstName ?? job.recipient.displayName,
      productName: brand.productName,
      loginName: job.recipient.loginName,
      code: job.code,
      expiry: formatValidity(job.expiresAt, locale, input.now ?? Date.now()),
      time: formatTime(job.occurredAt, locale, job.recipient.timeZone),
      passwordSet: "passwordSet" in job ? job.passwordSet : undefined,
    };
    const compiled = { ...texts.get(`${locale}|${kind}`)!, ...(tenant ? tenantTexts.get(`${job.tenant!.id}|${kind}|${locale}`) : undefined) };
    if (!vars.expiry) delete compiled.expiry;
    // The kind's own values; a text reference becomes that text (tenant's or built-in) in this locale.
    for (const [name, value] of Object.entries(kindDefinition(kind).textVars?.(input.job) ?? {})) {
      if (!isTextRef(value)) vars[name] = value;
      else if (compiled[value.textKey]) vars[name] = compiled[value.textKey].plain(vars);
      else throw new TemplateError(`${kind}: the text ${value.textKey} does not exist`);
    }
    return { locale, brand, compiled, vars, tenant };
  }

  return {
    locales: [...locales].sort(),
    warnings,
    tenantIds: [...tenants.keys()],
    email(input) {
      const layoutOf = emails.get(input.kind);
      if (!layoutOf) throw new TemplateError(`${input.kind} has no email template`);
      const { locale, brand, compiled, vars, tenant } = prepare(input);
      const html: Record<string, Handlebars.SafeString> = {};
      const plain: Record<string, string> = {};
      for (const [key, text] of Object.entries(compiled)) {
        html[key] = new hbs.SafeString(text.html(vars));
        plain[key] = text.plain(vars);
      }
      const context = {
        lang: locale,
        dir: directionOf(locale),
        align: directionOf(locale) === "rtl" ? "right" : "left",
        brand,
        color: { primary: brand.primaryColor, background: brand.backgroundColor, font: brand.fontColor, buttonText: brand.buttonTextColor },
        code: kindDefinition(input.kind).showsCode ? (input.job as LooseJob).code : undefined,
        link: input.link,
      };
      const text = layoutOf.text({ ...context, t: plain }).replace(/\n{3,}/g, "\n\n");
      return { locale, subject: oneLine(plain.subject), html: layoutOf.html({ ...context, t: html }), text, from: tenant?.from };
    },
    sms(input) {
      const { locale, compiled, vars } = prepare(input);
      if (!compiled.sms) throw new TemplateError(`${input.kind} has no SMS text`);
      // Intl puts no-break spaces in "2 heures"; in an SMS they only push the text out of GSM-7 into UCS-2.
      return { locale, body: oneLine(compiled.sms.plain(vars)).replace(/[\u00a0\u202f]/g, " ") };
    },
  };
}

/** Header-bound text: no line breaks or control characters can survive into a header. */
export function oneLine(value: string): string {
  return value
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ")
    .replace(/\s{2,}/g, " ")
    .trim();
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
