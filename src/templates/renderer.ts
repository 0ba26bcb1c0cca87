import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { convert } from "html-to-text";
import mjml2html from "mjml";
import { KIND_NAMES, kindDefinition, type AnyJob, type KindName } from "../contracts/index.js";
import { directionOf, formatValidity, pickLocale } from "./locale.js";
import { compileText, loadCatalog, messagesFor, type Catalog, type TextTemplate } from "./messages.js";

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
}

export interface RenderedSms {
  locale: string;
  body: string;
}

export interface Renderer {
  readonly locales: readonly string[];
  email(input: RenderInput): RenderedEmail;
  sms(input: RenderInput): RenderedSms;
}

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

const TEMPLATES_DIR = new URL("./", import.meta.url);

// MJML validates colour attributes, so the layout carries these stand-ins, swapped for placeholders after compiling.
const COLOR_STANDINS: Record<string, string> = {
  "#0f0f01": "{{color.primary}}",
  "#0f0f02": "{{color.background}}",
  "#0f0f03": "{{color.font}}",
  "#0f0f04": "{{color.buttonText}}",
};
const STANDIN = /#0f0f0[1-4]/gi;

const hbs = Handlebars.create();

interface CompiledKind {
  html: HandlebarsTemplateDelegate;
  text: TextTemplate;
}

async function compileEmail(layout: string, body: string, where: string): Promise<CompiledKind> {
  const source = layout.replace("<!-- herald:body -->", body);
  const result = await mjml2html(source, { validationLevel: "strict", keepComments: false });
  if (result.errors?.length) {
    throw new TemplateError(`${where}: ${result.errors.map((e) => e.formattedMessage ?? e.message).join("; ")}`);
  }
  const html = result.html.replace(STANDIN, (c) => COLOR_STANDINS[c.toLowerCase()]);
  // The plain-text part is derived from the same compiled mail once, here, so the two parts never drift apart.
  const text = convert(html, {
    wordwrap: false,
    selectors: [
      { selector: "img", format: "skip" },
      // The preheader is an inbox preview, hidden in the HTML part; the text part starts with the title.
      { selector: "div[style*='display:none']", format: "skip" },
      { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
      { selector: "table", format: "block" },
      { selector: "tr", format: "block" },
      { selector: "td", format: "block" },
    ],
  });
  return {
    html: hbs.compile(html, { knownHelpersOnly: true, strict: false }),
    text: compileText(text.replace(/\n{3,}/g, "\n\n").trim() + "\n", `${where} (text part)`),
  };
}

/** Compiles the layout, every kind's body and every locale's texts once; rendering a job then only fills in values. */
export interface RendererOptions {
  branding?: Partial<Branding>;
  catalog?: Catalog;
  /** YAML file with per-tenant branding, sender, default locale and texts. */
  tenantsFile?: string;
  /** Folder with `layout.mjml` and/or `<kind>.mjml` replacing the built-in ones. */
  templatesDir?: string;
}

export async function createRenderer(opts: RendererOptions = {}): Promise<Renderer> {
  const defaults = { ...DEFAULT_BRANDING, ...opts.branding };
  const catalog = opts.catalog ?? loadCatalog();
  const locales = new Set(catalog.keys());
  const layout = readFileSync(new URL("layout.mjml", TEMPLATES_DIR), "utf8");

  const emails = new Map<KindName, CompiledKind>();
  for (const kind of KIND_NAMES) {
    const def = kindDefinition(kind);
    if (!def.channels.includes("email")) continue;
    const file = new URL(`kinds/${def.template}.mjml`, TEMPLATES_DIR);
    emails.set(kind, await compileEmail(layout, readFileSync(file, "utf8"), `kinds/${def.template}.mjml`));
  }

  const texts = new Map<string, Record<string, TextTemplate>>();
  for (const locale of locales) {
    for (const kind of KIND_NAMES) {
      const set = messagesFor(catalog, locale, kindDefinition(kind).template);
      texts.set(
        `${locale}|${kind}`,
        Object.fromEntries(Object.entries(set).map(([key, source]) => [key, compileText(source, `messages/${locale}.json ${kind}.${key}`)])),
      );
    }
  }

  function prepare(input: RenderInput) {
    const { job, kind } = input;
    const locale = pickLocale(job.recipient.locale, locales);
    const brand: Branding = { ...defaults, ...stripUndefined(job.tenant?.branding ?? {}) };
    if (!job.tenant?.branding?.productName && job.tenant?.name) brand.productName = job.tenant.name;
    const vars = {
      name: job.recipient.firstName ?? job.recipient.displayName,
      productName: brand.productName,
      loginName: job.recipient.loginName,
      code: job.code,
      expiry: formatValidity(job.expiresAt, locale, input.now ?? Date.now()),
      passwordSet: "passwordSet" in job ? job.passwordSet : undefined,
    };
    const templates = texts.get(`${locale}|${kind}`)!;
    const t: Record<string, string> = {};
    for (const [key, template] of Object.entries(templates)) t[key] = template(vars);
    if (!vars.expiry) delete t.expiry;
    return { locale, brand, t, vars };
  }

  return {
    locales: [...locales].sort(),
    email(input) {
      const compiled = emails.get(input.kind);
      if (!compiled) throw new TemplateError(`${input.kind} has no email template`);
      const { locale, brand, t } = prepare(input);
      const context = {
        lang: locale,
        dir: directionOf(locale),
        t,
        brand,
        color: { primary: brand.primaryColor, background: brand.backgroundColor, font: brand.fontColor, buttonText: brand.buttonTextColor },
        code: input.kind === "passkey-link" ? undefined : input.job.code,
        link: input.link,
      };
      const text = compiled.text(context).replace(/\n{3,}/g, "\n\n");
      return { locale, subject: oneLine(t.subject), html: compiled.html(context), text };
    },
    sms(input) {
      const { locale, t } = prepare(input);
      if (!t.sms) throw new TemplateError(`${input.kind} has no SMS text`);
      // Intl puts no-break spaces in "2 heures"; in an SMS they only push the text out of GSM-7 into UCS-2.
      return { locale, body: oneLine(t.sms).replace(/[\u00a0\u202f]/g, " ") };
    },
  };
}

/** Header-bound text: no line breaks or control characters can survive into a header. */
export function oneLine(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").replace(/\s{2,}/g, " ").trim();
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
