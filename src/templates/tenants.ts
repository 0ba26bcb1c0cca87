import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { parse, YAMLParseError } from "yaml";
import { z } from "zod";
import { branding, isKindName, KIND_NAMES, kindDefinition, parseJob, toFieldIssues, type KindName } from "../contracts/index.js";
import { sampleJob } from "./samples.js";
import { locale as localeTag } from "../contracts/fields.js";
import { tenantLimitsSchema } from "../config/producer.js";
import type { TenantLimitPolicy } from "../config/defaults.js";

export interface TenantSettings {
  branding?: z.output<typeof branding>;
  /** `Name <address>`: the sender for this tenant's mails. */
  from?: string;
  defaultLocale?: string;
  /** kind → locale → text key → text */
  texts?: Record<string, Record<string, Record<string, string>>>;
  /** This tenant's resend limits over the HERALD_LIMIT_* defaults (enforced at enqueue); the SMS country cap is global. */
  limits?: Partial<TenantLimitPolicy>;
}

export type TenantDirectory = ReadonlyMap<string, TenantSettings>;

const sender = z
  .string()
  .trim()
  .regex(/^(?:[^<>\r\n]+\s)?<?[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>?$/, 'must be an address, optionally with a name: "Acme <no-reply@acme.com>"');

const tenantSchema = z.strictObject({
  branding: branding.optional(),
  from: sender.optional(),
  defaultLocale: localeTag.optional(),
  texts: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.string()))).optional(),
  limits: tenantLimitsSchema.optional(),
});

const fileSchema = z.strictObject({ tenants: z.record(z.string().min(1), tenantSchema) });

/**
 * The values every message text may insert. `passwordSet` is a condition (`{{#if passwordSet}}`) in
 * resend-initialization; `time` is a notice's moment in the recipient's zone.
 */
export const PLACEHOLDERS = ["name", "productName", "code", "expiry", "loginName", "passwordSet", "time"] as const;

/** The common placeholders and the kind's own (its contract's textVars, read off a sample job). */
export function placeholdersOf(kind: KindName): string[] {
  const own = kindDefinition(kind).textVars?.(parseJob(kind, sampleJob(kind)) as never) ?? {};
  return [...PLACEHOLDERS, ...Object.keys(own)];
}
const HELPERS = new Set(["if", "unless", "else"]);

/**
 * The names a text uses that are not placeholders (`{{nam}}`): Handlebars would render them as nothing,
 * so a typo would silently drop the user's name. Undefined when the text does not parse (reported elsewhere).
 */
export function unknownPlaceholders(source: string, allowed: readonly string[] = PLACEHOLDERS): string[] | undefined {
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(source);
  } catch {
    return undefined;
  }
  const used = new Set<string>();
  class Names extends Handlebars.Visitor {
    override PathExpression(path: hbs.AST.PathExpression): void {
      used.add(path.original);
    }
  }
  new Names().accept(ast);
  return [...used].filter((name) => !HELPERS.has(name) && !allowed.includes(name));
}

export class TenantsFileError extends Error {
  override readonly name = "TenantsFileError";
}

/**
 * Reads and checks the tenants file (HERALD_TENANTS_FILE) at start-up. `textKeys(kind)` names the keys a
 * kind's texts may override, so a typo (`subjekt`) stops start-up instead of silently doing nothing.
 */
export function loadTenants(file: string, textKeys: (kind: string) => ReadonlySet<string>): TenantDirectory {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8"));
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` line ${error.linePos[0].line}` : "";
    throw new TenantsFileError(`${file}${where}: ${(error as Error).message.split("\n")[0]}`);
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    throw new TenantsFileError(
      `${file}: ${toFieldIssues(result.error)
        .map((i) => `${i.field} ${i.message}`)
        .join("; ")}`,
    );
  }
  const problems: string[] = [];
  for (const [id, tenant] of Object.entries(result.data.tenants)) {
    for (const [kind, byLocale] of Object.entries(tenant.texts ?? {})) {
      if (!isKindName(kind)) {
        problems.push(`tenants.${id}.texts.${kind}: unknown kind; expected one of ${KIND_NAMES.join(", ")}`);
        continue;
      }
      const allowed = textKeys(kind);
      const placeholders = placeholdersOf(kind);
      for (const [locale, texts] of Object.entries(byLocale)) {
        if (!localeTag.safeParse(locale).success) problems.push(`tenants.${id}.texts.${kind}.${locale}: not a BCP 47 language tag`);
        for (const [key, text] of Object.entries(texts)) {
          if (!allowed.has(key)) problems.push(`tenants.${id}.texts.${kind}.${locale}.${key}: unknown text key; expected one of ${[...allowed].join(", ")}`);
          if (text.includes("{{{")) problems.push(`tenants.${id}.texts.${kind}.${locale}.${key}: triple braces are not allowed (values are always escaped)`);
          const unknown = unknownPlaceholders(text, placeholders);
          if (unknown?.length) {
            problems.push(
              `tenants.${id}.texts.${kind}.${locale}.${key}: unknown placeholder ${unknown.map((n) => `{{${n}}}`).join(", ")}; expected ${placeholders.map((n) => `{{${n}}}`).join(", ")}`,
            );
          }
        }
      }
    }
  }
  if (problems.length) throw new TenantsFileError(`${file}: ${problems.join("; ")}`);
  return new Map(Object.entries(result.data.tenants));
}

/**
 * Only the `limits:` of each tenant, for a producer (the API, the CLI) that enforces them: the rest of the
 * file is checked by loadTenants when the renderer starts.
 */
export function readTenantLimits(file: string): Record<string, Partial<TenantLimitPolicy>> {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new TenantsFileError(`${file}: ${(error as Error).message.split("\n")[0]}`);
  }
  const result = z.object({ tenants: z.record(z.string(), z.looseObject({ limits: tenantLimitsSchema.optional() })) }).safeParse(raw);
  if (!result.success) {
    throw new TenantsFileError(
      `${file}: ${toFieldIssues(result.error)
        .map((i) => `${i.field} ${i.message}`)
        .join("; ")}`,
    );
  }
  const out: Record<string, Partial<TenantLimitPolicy>> = {};
  for (const [id, tenant] of Object.entries(result.data.tenants)) if (tenant.limits) out[id] = tenant.limits;
  return out;
}
