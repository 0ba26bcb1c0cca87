import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { convert } from "html-to-text";
import mjml2html from "mjml";
import { isKindName, KIND_NAMES, kindDefinition, type KindName } from "../contracts/index.js";
import { compileText, loadCatalog, messagesFor, type TextTemplate } from "./messages.js";
import type { RendererOptions } from "./renderer.js";
import { sanitizeCustomHtml, stripCustomHtml } from "./safe-html.js";
import { loadTenants, type TenantDirectory } from "./tenants.js";

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

/** One Handlebars instance for compiling and rendering, so its SafeString is the one the templates know. */
export const hbs = Handlebars.create();

interface Source {
  text: string;
  /** Where it came from, for error messages: a built-in name or an override file path. */
  file: string;
}

export interface CompiledKind {
  html: HandlebarsTemplateDelegate;
  text: TextTemplate;
}

/** One message text, ready for both parts: HTML (markup-safe) and plain (text part, subject, SMS). */
export interface CompiledText {
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
    .replace(STANDIN, (c) => COLOR_STANDINS[c.toLowerCase()] ?? c)
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

/** Everything a renderer needs that does not depend on the job, built once at start-up. */
export interface CompiledTemplates {
  defaults: Branding;
  locales: Set<string>;
  /** Things worth one log line at start-up (e.g. texts that fall back to English). */
  warnings: string[];
  /** kind → its compiled mail (kinds with an email channel only). */
  emails: Map<KindName, CompiledKind>;
  /** locale|kind → the built-in texts. */
  texts: Map<string, Record<string, CompiledText>>;
  tenants: TenantDirectory;
  /** tenant|kind|locale → the tenant's own texts. */
  tenantTexts: Map<string, Record<string, CompiledText>>;
}

/** Reads the sources (built-in or overrides), compiles the layout, every kind's body and every locale's and tenant's texts. */
export async function compileTemplates(opts: RendererOptions): Promise<CompiledTemplates> {
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

  return { defaults, locales, warnings, emails, texts, tenants, tenantTexts };
}
