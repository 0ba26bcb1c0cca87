import { writeFileSync } from "node:fs";
import type { Config } from "../config/index.js";
import { channelOf, isKindName, KIND_NAMES, hasChannel, parseJob, resolveLink, ValidationError, type KindName } from "../contracts/index.js";
import type { Renderer } from "../templates/renderer.js";
import { sampleJob } from "../templates/samples.js";
import { describeSegments, smsSegments } from "../templates/sms-segments.js";
import { UsageError } from "./send.js";

// Only light modules are imported up front (`herald --help` loads this file); MJML, Handlebars and
// nodemailer are imported when a preview is actually rendered.

export const PREVIEW_FORMATS = ["html", "text", "eml", "sms"] as const;
export type PreviewFormat = (typeof PREVIEW_FORMATS)[number];
const EMAIL_FORMATS: readonly PreviewFormat[] = ["html", "text", "eml"];

/** --locale and --tenant applied to a job given with --data (left alone where the job's shape is wrong: validation says so). */
export function withOverrides(job: unknown, opts: { locale?: string; tenant?: string }): unknown {
  if (typeof job !== "object" || job === null || Array.isArray(job)) return job;
  const out: Record<string, unknown> = { ...(job as Record<string, unknown>) };
  if (opts.locale !== undefined && isObject(out.recipient)) out.recipient = { ...out.recipient, locale: opts.locale };
  if (opts.tenant !== undefined) out.tenant = { ...(isObject(out.tenant) ? out.tenant : {}), id: opts.tenant };
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function formatsOf(kind: KindName): string {
  const formats = [...(hasChannel(kind, "email") ? EMAIL_FORMATS : []), ...(hasChannel(kind, "sms") ? ["sms"] : [])];
  return formats.join(", ");
}

export interface PreviewOptions {
  format?: PreviewFormat;
  locale?: string;
  tenant?: string;
  /** The job as parsed from --data/--data-file; absent: sample data. */
  data?: unknown;
  now?: number;
}

export interface Preview {
  format: PreviewFormat;
  /** What goes to stdout or --out: text, or the .eml bytes. */
  content: string | Buffer;
  /** One-line notes for stderr (locale, subject, SMS segments). */
  notes: string[];
}

/**
 * Renders one job as Herald would send it, without a queue: the mail's HTML or text part, the complete
 * RFC 5322 message, or the SMS text. Throws ValidationError for a bad job and UsageError for a format the
 * job's channel does not have.
 */
export async function renderPreview(
  config: Pick<Config, "SMTP_FROM" | "HERALD_TENANTS_FILE" | "HERALD_TEMPLATES_DIR" | "SMTP_DKIM_DOMAIN" | "SMTP_DKIM_SELECTOR" | "SMTP_DKIM_PRIVATE_KEY"> & {
    HERALD_PRODUCT_NAME?: string;
  },
  kind: string,
  opts: PreviewOptions,
  renderer?: Renderer,
): Promise<Preview> {
  if (!isKindName(kind)) throw new ValidationError(kind, [{ field: "kind", message: `is unknown; expected one of ${KIND_NAMES.join(", ")}` }]);
  if (opts.locale !== undefined && !isLanguageTag(opts.locale))
    throw new UsageError(`--locale ${opts.locale} is not a BCP 47 language tag such as de, de-CH or ar`);
  if (opts.format === "sms" && !hasChannel(kind, "sms")) throw new UsageError(`${kind} is sent by email only: use --format ${formatsOf(kind)}`);
  if (opts.format && opts.format !== "sms" && !hasChannel(kind, "email")) throw new UsageError(`${kind} is sent by SMS only: use --format sms`);

  const now = opts.now ?? Date.now();
  const input =
    opts.data === undefined
      ? sampleJob(kind, { locale: opts.locale, tenant: opts.tenant, channel: opts.format === "sms" ? "sms" : "email", now })
      : withOverrides(opts.data, { locale: opts.locale, tenant: opts.tenant });
  const job = parseJob(kind, input);
  const channel = channelOf(kind, job);
  const format = opts.format ?? (channel === "sms" ? "sms" : "html");
  if ((format === "sms") !== (channel === "sms")) {
    throw new UsageError(
      channel === "sms"
        ? `this ${kind} job goes by SMS (channel "sms"): use --format sms`
        : `this ${kind} job goes by email: use --format ${EMAIL_FORMATS.join(", ")}, or give "channel": "sms" in the job to preview its SMS`,
    );
  }

  renderer ??= await (await import("../templates/load.js")).loadRenderer(config);
  const notes: string[] = [];
  const tenantId = job.tenant?.id;
  if (tenantId !== undefined && !renderer.tenantIds.includes(tenantId)) {
    // A typo in --tenant would otherwise show the default branding as if it were the tenant's.
    if (opts.tenant !== undefined && config.HERALD_TENANTS_FILE) {
      throw new UsageError(`--tenant ${opts.tenant}: ${config.HERALD_TENANTS_FILE} has no such tenant (it has ${renderer.tenantIds.join(", ") || "none"})`);
    }
    if (opts.tenant !== undefined)
      notes.push(`warning: HERALD_TENANTS_FILE is not set: tenant ${tenantId} has no settings; the default branding and texts are shown`);
    // As a worker would log it for such a job.
    else if (opts.data !== undefined && config.HERALD_TENANTS_FILE)
      notes.push(`warning: tenant ${tenantId} is not in ${config.HERALD_TENANTS_FILE}: rendered with the default branding and texts`);
  }
  const requested = job.recipient.locale;

  if (format === "sms") {
    const sms = renderer.sms({ kind, job, now });
    noteLocale(notes, requested, sms.locale);
    notes.push(describeSegments(smsSegments(sms.body)));
    return { format, content: sms.body + "\n", notes };
  }

  const mail = renderer.email({ kind, job, link: resolveLink(job), now });
  noteLocale(notes, requested, mail.locale);
  notes.push(`subject: ${mail.subject}`);
  if (format === "html") return { format, content: mail.html, notes };
  if (format === "text") return { format, content: mail.text, notes };

  // The message exactly as the email worker hands it to SMTP or the outbox (src/workers/pipeline.ts):
  // the tenant's sender when its settings name one, else SMTP_FROM, else Herald's default.
  const { buildEml } = await import("../channels/eml.js");
  const from = config.SMTP_FROM ?? (await import("../channels/index.js")).DEFAULT_FROM;
  const to = { address: job.recipient.email!, name: job.recipient.displayName };
  const { dkimFromEnv } = await import("../config/dkim.js");
  const { raw } = await buildEml({ to, from: mail.from, subject: mail.subject, html: mail.html, text: mail.text }, from, { dkim: dkimFromEnv(config) });
  return { format, content: raw, notes };
}

function noteLocale(notes: string[], requested: string | undefined, rendered: string): void {
  const language = (tag: string) => (tag.split("-")[0] ?? "").toLowerCase();
  if (requested && language(requested) !== language(rendered)) notes.push(`locale: ${rendered} (Herald has no texts for ${requested})`);
  else notes.push(`locale: ${rendered}`);
}

function isLanguageTag(tag: string): boolean {
  try {
    return /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tag) && Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

/** `herald preview`: the preview to stdout or --out, notes to stderr. */
export async function runPreview(
  config: Config,
  kind: string,
  opts: PreviewOptions & { out?: string },
  io = { stdout: process.stdout, stderr: process.stderr },
): Promise<void> {
  const preview = await renderPreview(config, kind, opts);
  for (const note of preview.notes) io.stderr.write(`${note}\n`);
  if (opts.out) {
    writeFileSync(opts.out, preview.content);
    io.stderr.write(`wrote ${opts.out} (${Buffer.byteLength(preview.content)} bytes)\n`);
  } else {
    io.stdout.write(preview.content);
  }
}
