import type Handlebars from "handlebars";
import { isTextRef, kindDefinition, type LooseJob } from "../contracts/index.js";
import { type Branding, type CompiledTemplates, hbs, TemplateError } from "./compile.js";
import { directionOf, formatTime, formatValidity, pickLocale } from "./locale.js";
import type { RenderInput, Renderer, RendererOptions } from "./renderer.js";
import type { TenantSettings } from "./tenants.js";

/** Renders jobs from templates compiled once: per job it only prepares the values and fills them in. */
export function renderWith(compiled: CompiledTemplates, opts: RendererOptions): Renderer {
  const { defaults, locales, warnings, emails, texts, tenants, tenantTexts } = compiled;

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
      if (!isTextRef(value)) {
        vars[name] = value;
        continue;
      }
      const text = compiled[value.textKey];
      if (!text) throw new TemplateError(`${kind}: the text ${value.textKey} does not exist`);
      vars[name] = text.plain(vars);
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
        const value = text.plain(vars);
        plain[key] = value;
        // Each text is rendered once: a built-in text's HTML is its plain text, escaped.
        html[key] = new hbs.SafeString(text.htmlIsEscapedPlain ? hbs.escapeExpression(value) : text.html(vars));
      }
      const dir = directionOf(locale);
      const context = {
        lang: locale,
        dir,
        align: dir === "rtl" ? "right" : "left",
        brand,
        color: { primary: brand.primaryColor, background: brand.backgroundColor, font: brand.fontColor, buttonText: brand.buttonTextColor },
        code: kindDefinition(input.kind).showsCode ? (input.job as LooseJob).code : undefined,
        link: input.link,
      };
      const text = layoutOf.text({ ...context, t: plain }).replace(/\n{3,}/g, "\n\n");
      if (plain.subject === undefined) throw new TemplateError(`${input.kind} has no subject text`);
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
