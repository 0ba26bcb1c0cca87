import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { isKindName, KIND_NAMES, kindDefinition, type KindName } from "../contracts/index.js";
import { compileText, loadCatalog, messagesFor, type TextTemplate } from "./messages.js";
import type { RendererOptions } from "./renderer.js";
import { TemplateError } from "./errors.js";
import type { CompiledSources, Source } from "./mjml.js";
import { emailKinds, readPrecompiled } from "./precompiled.js";
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

export { TemplateError };

const BUILT_IN = new URL("./", import.meta.url);

/** One Handlebars instance for compiling and rendering, so its SafeString is the one the templates know. */
export const hbs = Handlebars.create();

export interface CompiledKind {
  html: HandlebarsTemplateDelegate;
  text: TextTemplate;
}

/** One message text, ready for both parts: HTML (markup-safe) and plain (text part, subject, SMS). */
export interface CompiledText {
  plain: TextTemplate;
  html: (vars: Record<string, unknown>) => string;
  /** The HTML is the plain text, escaped (built-in texts): a renderer that has the plain text needs not render it again. */
  htmlIsEscapedPlain?: boolean;
}

function readSource(dir: string | undefined, name: string, builtIn: string): Source {
  const override = dir ? join(dir, name) : undefined;
  if (override && existsSync(override)) return { text: readFileSync(override, "utf8"), file: override };
  return { text: readFileSync(new URL(builtIn, BUILT_IN), "utf8"), file: `built-in ${builtIn}` };
}

/** Handlebars over a kind's compiled mail (built-in: compiled at build time; overrides: by MJML at start). */
function compileKind(sources: CompiledSources, file: string, layoutFile: string): CompiledKind {
  try {
    return {
      html: hbs.compile(sources.html, { knownHelpersOnly: true, strict: false }),
      text: compileText(sources.text, `${file} (text part)`),
    };
  } catch (error) {
    throw new TemplateError(`${file} or ${layoutFile}: ${(error as Error).message}`);
  }
}

function builtInText(source: string, where: string): CompiledText {
  const plain = compileText(source, where);
  return { plain, html: (vars) => hbs.escapeExpression(plain(vars)), htmlIsEscapedPlain: true };
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
  const emails = new Map<KindName, CompiledKind>();
  // The built-in templates ship compiled (npm run build); MJML is loaded only for an override folder, or
  // when the compiled copy is missing or older than the sources (a checkout with edited templates).
  const precompiled = opts.templatesDir ? undefined : readPrecompiled();
  if (precompiled) {
    for (const [kind, sources] of precompiled) emails.set(kind, compileKind(sources, `built-in kinds/${kind}.mjml`, "built-in layout.mjml"));
  } else {
    const { compileMjml } = await import("./mjml.js");
    const layout = readSource(opts.templatesDir, "layout.mjml", "layout.mjml");
    for (const kind of emailKinds()) {
      const body = readSource(opts.templatesDir, `${kind}.mjml`, `kinds/${kind}.mjml`);
      emails.set(kind, compileKind(await compileMjml(layout, body), body.file, layout.file));
    }
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
