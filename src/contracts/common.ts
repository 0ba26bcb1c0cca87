import { z } from "zod";
import { emailAddress, hexColor, httpsUrl, isoTime, locale, phoneNumber, secretCode, text, timeZone } from "./fields.js";
import { LINK_PLACEHOLDERS, fillLinkTemplate, hasMalformedPlaceholder, unknownPlaceholders } from "./link.js";

export const CHANNELS = ["email", "sms"] as const;
export type ChannelName = (typeof CHANNELS)[number];

const object = { error: (i: { input: unknown }) => (i.input === undefined ? "is required" : "must be an object") };

export const recipient = z.strictObject(
  {
    userId: text(200),
    email: emailAddress.optional(),
    phone: phoneNumber.optional(),
    displayName: text(200).optional(),
    firstName: text(100).optional(),
    lastName: text(100).optional(),
    loginName: text(200).optional(),
    locale: locale.optional(),
    timeZone: timeZone.optional(),
  },
  object,
);

export const branding = z.strictObject(
  {
    primaryColor: hexColor.optional(),
    backgroundColor: hexColor.optional(),
    fontColor: hexColor.optional(),
    logoUrl: httpsUrl.optional(),
    productName: text(100).optional(),
  },
  object,
);

export const tenant = z.strictObject(
  {
    id: text(200).optional(),
    name: text(200).optional(),
    branding: branding.optional(),
  },
  object,
);

export const urlTemplate = z
  .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
  .max(2048, "must be at most 2048 characters")
  .superRefine((value, ctx) => {
    const unknown = unknownPlaceholders(value);
    if (unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `has unknown placeholder(s) ${unknown.map((u) => `{{${u}}}`).join(", ")}; allowed: ${LINK_PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")}`,
      });
      return;
    }
    if (hasMalformedPlaceholder(value)) {
      ctx.addIssue({
        code: "custom",
        message: `has an unclosed or malformed placeholder; write them as ${LINK_PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")}`,
      });
      return;
    }
    const sample = fillLinkTemplate(value, Object.fromEntries(LINK_PLACEHOLDERS.map((p) => [p, "x"])));
    if (!httpsUrl.safeParse(sample).success) ctx.addIssue({ code: "custom", message: "must be an http(s) URL template" });
  });

/** Fields every kind has: who gets it, whose branding, and the optional key that makes a repeat a no-op. */
export const baseFields = {
  recipient,
  tenant: tenant.optional(),
  idempotencyKey: text(200).optional(),
};

/** Fields of a kind that delivers a code. `code`, `codeId`, `url` and `urlTemplate` are secrets: encrypted before they reach Redis. */
export const commonFields = {
  ...baseFields,
  code: secretCode,
  expiresAt: isoTime.optional(),
};

/**
 * Fields of a security notice (password, address or second factor changed): no code and no expiry, since
 * nothing in it can be used or go stale; instead the time of the change, shown in the recipient's zone.
 * A notice has no natural key to deduplicate on, so only an explicit `idempotencyKey` ever merges two.
 */
export const noticeFields = {
  ...baseFields,
  /** When the change happened; default: when the job is enqueued (the producer fills it in, so retries keep it). */
  occurredAt: isoTime.optional().transform((value) => value ?? new Date().toISOString()),
};

export const linkFields = {
  url: httpsUrl.optional(),
  urlTemplate: urlTemplate.optional(),
};

/** Sealed before a job reaches Redis; `newEmail` too, as a worker needs it only to show it masked. */
export const SECRET_FIELDS = ["code", "codeId", "url", "urlTemplate", "newEmail"] as const;

interface Shape {
  recipient?: { email?: string; phone?: string };
  code?: unknown;
  codeId?: unknown;
  url?: string;
  urlTemplate?: string;
  channel?: string;
}

/**
 * A cross-field check that runs even when single fields already failed, so one answer lists every
 * problem (zod skips refinements after the first failure by default). It sees unvalidated input.
 */
export function crossField(rule: (job: Shape, ctx: z.RefinementCtx) => void) {
  return z.superRefine<Shape>(rule, {
    when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value),
  } as Parameters<typeof z.superRefine>[1]);
}

/** Cross-field rules: the address the channel needs, and exactly one way to build the link where a link is sent. */
export function requireFor(channel: ChannelName, needsLink: boolean, job: Shape, ctx: z.RefinementCtx): void {
  if (typeof job.recipient === "object" && job.recipient !== null) {
    if (channel === "email" && !job.recipient.email) {
      ctx.addIssue({ code: "custom", path: ["recipient", "email"], message: "is required for an email" });
    }
    if (channel === "sms" && !job.recipient.phone) {
      ctx.addIssue({ code: "custom", path: ["recipient", "phone"], message: "is required for an SMS" });
    }
  }
  if (needsLink && !job.url && !job.urlTemplate) {
    ctx.addIssue({ code: "custom", path: ["url"], message: "is required (or give urlTemplate)" });
  }
  if (job.url && job.urlTemplate) {
    ctx.addIssue({ code: "custom", path: ["urlTemplate"], message: "must not be given together with url" });
  }
}

/**
 * For a kind whose code is optional: a `urlTemplate` may only use `{{code}}`/`{{codeId}}` when the job has
 * them, or the link would silently carry an empty value.
 */
export function requireTemplateValues(job: Shape, ctx: z.RefinementCtx): void {
  if (typeof job.urlTemplate !== "string") return;
  for (const field of ["code", "codeId"] as const) {
    if (job[field] === undefined && new RegExp(`\\{\\{\\s*${field}\\s*\\}\\}`).test(job.urlTemplate)) {
      ctx.addIssue({ code: "custom", path: ["urlTemplate"], message: `uses {{${field}}} but the job has no ${field}` });
    }
  }
}

/** A message text's value that is another text of the same kind and locale, e.g. the localised name of a second factor. */
export interface TextRef {
  textKey: string;
}

export const textRef = (textKey: string): TextRef => ({ textKey });

export type TextVar = string | number | boolean | undefined | TextRef;

export function isTextRef(value: unknown): value is TextRef {
  return typeof value === "object" && value !== null && typeof (value as TextRef).textKey === "string";
}

/** `ada.lovelace@example.com` → `a***@example.com`: recognisable to its owner, useless to anyone else. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 1) return "***";
  return `${[...address.slice(0, at)][0]}***${address.slice(at)}`;
}

export interface KindDefinition<S extends z.ZodType = z.ZodType> {
  /** The job kind, as used in the SDK, CLI and HTTP paths. */
  kind: string;
  /** One line for docs and `--help`. */
  summary: string;
  schema: S;
  /** Channels this kind may use; the first is the default. */
  channels: readonly ChannelName[];
  channelOf(job: z.output<S>): ChannelName;
  /**
   * Keys of this kind's own message texts (its section of `src/templates/messages/<locale>.json`), on
   * top of the common ones; tenants may override exactly these. `sms` is the SMS text.
   */
  textKeys: readonly string[];
  /** Whether the message shows the code itself (a passkey link carries it inside the link only; a notice has none). */
  showsCode: boolean;
  /**
   * Values this kind's texts use beyond the common ones (`{{inviter}}`, `{{#if added}}`…). A `textRef(key)`
   * value is replaced by that text of the kind in the recipient's locale, so localised words stay in the texts.
   */
  textVars?(job: z.output<S>): Record<string, TextVar>;
  /** A request as a producer would send it, for the API docs. */
  example: Record<string, unknown>;
  /**
   * The fields a realistic preview of this kind adds to the sample recipient and tenant: the code, and
   * the link as an identity server would build it from `baseUrl`.
   */
  sample(ctx: { channel: ChannelName; baseUrl: string }): Record<string, unknown>;
}

/** Message-text keys of a mail; kinds add `sms` when they can go by SMS. */
export const EMAIL_TEXT_KEYS = ["subject", "preheader", "title", "text", "button"] as const;

/**
 * Message-text keys of a security notice: `notYou` says what to do if the change was not the recipient's,
 * `button` labels the optional link, and the footer explains why the mail came.
 */
export const NOTICE_TEXT_KEYS = [...EMAIL_TEXT_KEYS, "notYou", "footer"] as const;
