import { statSync } from "node:fs";
import { z } from "zod";
import { dkimIssues } from "./dkim.js";
import { httpEnvShape } from "./http.js";
import { providerEnvIssues, providerEnvShape } from "./providers.js";
import { describeEnvIssues, flag, int, optionalText, urlWith } from "./env.js";
import { producerVariables } from "./producer.js";
import { checkRedisVariables } from "./redis.js";
import { closestName } from "./names.js";
import { webhookEndpoints } from "./webhooks.js";

/** `Name <local@domain>`, `"Name, Inc." <local@domain>` or `local@domain`: nodemailer sends no From header for anything else. */
const MAILBOX = /^(?:(?:"(?:[^"\\\r\n]|\\.)*"|[^<>"\r\n]*?)\s*<([^<>\s]+)>|([^<>\s]+))$/;
const ADDRESS = /^[^\s@<>()[\],;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
export function isMailbox(value: string): boolean {
  const match = MAILBOX.exec(value.trim());
  // One of the two groups matched: the address in angle brackets, or the bare address.
  const address = match?.[1] ?? match?.[2];
  return address !== undefined && ADDRESS.test(address);
}

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** Every setting Herald reads, from the environment only: the producer's slice and the service's own. README's config table mirrors this (a test checks). */
const variables = {
  ...producerVariables,
  // Defaults measured with npm run bench --sweep against a relay that answers in 20 ms (docs/performance.md):
  // more jobs than connections keeps every connection busy with the next mail already rendered; SMS wait on
  // an HTTP round trip, so many go at once.
  HERALD_EMAIL_CONCURRENCY: int("HERALD_EMAIL_CONCURRENCY", 1, 1000).default(50),
  HERALD_SMS_CONCURRENCY: int("HERALD_SMS_CONCURRENCY", 1, 1000).default(50),
  HERALD_EMAIL_RATE_PER_SECOND: int("HERALD_EMAIL_RATE_PER_SECOND", 1, 100_000).optional(),
  HERALD_SMS_RATE_PER_SECOND: int("HERALD_SMS_RATE_PER_SECOND", 1, 100_000).optional(),
  HERALD_LOCK_MS: int("HERALD_LOCK_MS", 1000, 600_000).default(10_000),
  HERALD_STALLED_INTERVAL_MS: int("HERALD_STALLED_INTERVAL_MS", 500, 600_000).default(5_000),
  /** `--heap-growing-percent` for the long-running commands (src/cli/heap.ts); 0: V8's own growth. */
  HERALD_HEAP_GROWING_PERCENT: int("HERALD_HEAP_GROWING_PERCENT", 0, 1000).default(20),
  HERALD_OUTBOX_DIR: z.string().min(1).default("./outbox"),
  HERALD_EMAIL_CHANNEL: z.enum(["smtp", "outbox", "http"], { error: "must be smtp, http or outbox" }).optional(),
  HERALD_SMS_CHANNEL: z.enum(["twilio", "outbox", "http"], { error: "must be twilio, http or outbox" }).optional(),
  HERALD_TENANTS_FILE: optionalText.refine((v) => v === undefined || isFile(v), { error: (i) => `HERALD_TENANTS_FILE: there is no file ${String(i.input)}` }),
  HERALD_PRODUCT_NAME: z
    .string()
    .trim()
    .min(1, "HERALD_PRODUCT_NAME must not be empty")
    .max(40, "HERALD_PRODUCT_NAME must be at most 40 characters")
    .default("Herald"),
  HERALD_TEMPLATES_DIR: optionalText.refine((v) => v === undefined || isDirectory(v), {
    error: (i) => `HERALD_TEMPLATES_DIR: there is no folder ${String(i.input)}`,
  }),
  SMTP_URL: optionalText.pipe(urlWith("SMTP_URL", /^(smtp|smtps):$/).optional()),
  SMTP_FROM: optionalText.refine(
    (v) => v === undefined || isMailbox(v),
    'SMTP_FROM must be an address with an optional display name, e.g. "Acme <no-reply@acme.com>" or no-reply@acme.com',
  ),
  SMTP_POOL_SIZE: int("SMTP_POOL_SIZE", 1, 100).default(20),
  /** Mails per pooled connection before it is replaced; unset: no limit (nodemailer's own default of 100 reconnects, with a TLS handshake, every 100 mails). */
  SMTP_POOL_MAX_MESSAGES: int("SMTP_POOL_MAX_MESSAGES", 1, 1_000_000_000).optional(),
  /** Default: on, off with HERALD_DEV=1. */
  SMTP_REQUIRE_TLS: optionalText.pipe(flag.optional()),
  SMTP_DKIM_DOMAIN: optionalText,
  SMTP_DKIM_SELECTOR: optionalText,
  SMTP_DKIM_PRIVATE_KEY: optionalText,
  TWILIO_ACCOUNT_SID: optionalText.pipe(
    z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, "TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits")
      .optional(),
  ),
  TWILIO_AUTH_TOKEN: optionalText,
  TWILIO_FROM: optionalText,
  TWILIO_MESSAGING_SERVICE_SID: optionalText.pipe(
    z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, "TWILIO_MESSAGING_SERVICE_SID must look like MG followed by 32 hex digits")
      .optional(),
  ),
  TWILIO_API_BASE_URL: optionalText.pipe(urlWith("TWILIO_API_BASE_URL", /^(http|https):$/).optional()),
  /** Where providers reach this Herald's API from outside (Twilio status callbacks); none sent when unset. */
  HERALD_PUBLIC_URL: optionalText.pipe(
    urlWith("HERALD_PUBLIC_URL", /^(http|https):$/)
      .refine((v) => !/[?#]/.test(v), "HERALD_PUBLIC_URL must be a base URL without query or fragment, e.g. https://herald.example.com")
      .optional(),
  ),
  HERALD_WEBHOOKS: optionalText,
  HERALD_WEBHOOKS_FILE: optionalText,
  HERALD_WEBHOOK_ATTEMPTS: int("HERALD_WEBHOOK_ATTEMPTS", 1, 30).default(12),
  HERALD_WEBHOOK_BACKOFF_MS: int("HERALD_WEBHOOK_BACKOFF_MS", 1, 3_600_000).default(10_000),
  HERALD_WEBHOOK_TIMEOUT_MS: int("HERALD_WEBHOOK_TIMEOUT_MS", 100, 60_000).default(5_000),
  HERALD_WEBHOOK_CONCURRENCY: int("HERALD_WEBHOOK_CONCURRENCY", 1, 1000).default(10),
  /** Traces over OTLP: on with 1, or when OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_*ENDPOINT say so (the standard OTEL_* variables configure the rest). */
  HERALD_OTEL: optionalText.pipe(flag.optional()),
  HERALD_SUPPRESSION_TTL_DAYS: int("HERALD_SUPPRESSION_TTL_DAYS", 1, 3650).default(30),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HERALD_METRICS_PORT: int("HERALD_METRICS_PORT", 0, 65_535).optional(),
  HERALD_METRICS_HOST: z.string().trim().min(1).default("127.0.0.1"),
  ...httpEnvShape,
  ...providerEnvShape,
};

export const CONFIG_VARIABLES = Object.keys(variables);

/** HERALD_* names read by the test suite and scripts, not by Herald (and any HERALD_TEST_*): not reported as misspellings. */
const TOOLING_VARIABLES = ["HERALD_CHROMIUM", "HERALD_UPDATE_SCREENSHOTS", "HERALD_TEST_REPORT", "HERALD_FAULT_JOBS"];

/**
 * The provider per channel: as configured, else the real one whose settings are there; the outbox only
 * in development. Undefined: no provider, which stops a worker for that channel at start (providerIssues).
 */
const emailChannelOf = (env: { HERALD_EMAIL_CHANNEL?: "smtp" | "outbox" | "http"; SMTP_URL?: string; HERALD_DEV: boolean }) =>
  env.HERALD_EMAIL_CHANNEL ?? (env.SMTP_URL ? "smtp" : env.HERALD_DEV ? "outbox" : undefined);
const smsChannelOf = (env: { HERALD_SMS_CHANNEL?: "twilio" | "outbox" | "http"; TWILIO_ACCOUNT_SID?: string; HERALD_DEV: boolean }) =>
  env.HERALD_SMS_CHANNEL ?? (env.TWILIO_ACCOUNT_SID ? "twilio" : env.HERALD_DEV ? "outbox" : undefined);

export const configSchema = z
  .object(variables)
  .superRefine((env, ctx) => {
    checkRedisVariables(env, ctx);
    if (env.HERALD_ENCRYPTION_KEY && env.HERALD_ENCRYPTION_KEYS) {
      ctx.addIssue({
        code: "custom",
        path: ["HERALD_ENCRYPTION_KEYS"],
        message: "set HERALD_ENCRYPTION_KEYS or HERALD_ENCRYPTION_KEY, not both (list the single key in HERALD_ENCRYPTION_KEYS as kid:key)",
      });
    }
    if (emailChannelOf(env) === "smtp") {
      if (!env.SMTP_URL) ctx.addIssue({ code: "custom", path: ["SMTP_URL"], message: "SMTP_URL is required when HERALD_EMAIL_CHANNEL=smtp" });
      if (!env.SMTP_FROM) ctx.addIssue({ code: "custom", path: ["SMTP_FROM"], message: 'SMTP_FROM is required with SMTP, e.g. "Acme <no-reply@acme.com>"' });
    }
    const emailByHttp = emailChannelOf(env) === "http" || (env.HERALD_HTTP_PROVIDER_FALLBACK ?? []).includes("email");
    if (!env.SMTP_FROM && ((env.SMTP_FALLBACK_URL?.length ?? 0) > 0 || (emailByHttp && !env.HERALD_DEV))) {
      const via = (env.SMTP_FALLBACK_URL?.length ?? 0) > 0 ? "SMTP_FALLBACK_URL" : "the HTTP provider";
      ctx.addIssue({
        code: "custom",
        path: ["SMTP_FROM"],
        message: `SMTP_FROM is required when mail goes out through ${via}, e.g. "Acme <no-reply@acme.com>"`,
      });
    }
    if (env.HERALD_HTTP_PROVIDER_URL && !env.HERALD_DEV) {
      const url = new URL(env.HERALD_HTTP_PROVIDER_URL);
      const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
      if (url.protocol !== "https:" && !loopback) {
        ctx.addIssue({
          code: "custom",
          path: ["HERALD_HTTP_PROVIDER_URL"],
          message: "HERALD_HTTP_PROVIDER_URL must be https:// (it carries codes, links and addresses; plain http only to loopback or with HERALD_DEV=1)",
        });
      }
    }
    for (const issue of webhookEndpoints(env).issues) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
    for (const issue of providerEnvIssues(env)) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
    // DKIM signs SMTP and outbox mail alike, so it is checked whichever channel is chosen.
    for (const issue of dkimIssues(env)) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
    if (smsChannelOf(env) === "twilio") {
      if (!env.TWILIO_ACCOUNT_SID)
        ctx.addIssue({ code: "custom", path: ["TWILIO_ACCOUNT_SID"], message: "TWILIO_ACCOUNT_SID is required when HERALD_SMS_CHANNEL=twilio" });
      if (!env.TWILIO_AUTH_TOKEN)
        ctx.addIssue({ code: "custom", path: ["TWILIO_AUTH_TOKEN"], message: "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID" });
      if (!env.TWILIO_FROM === !env.TWILIO_MESSAGING_SERVICE_SID) {
        ctx.addIssue({ code: "custom", path: ["TWILIO_FROM"], message: "set exactly one of TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID" });
      }
    }
  })
  .transform((env) => ({
    ...env,
    emailChannel: emailChannelOf(env),
    smsChannel: smsChannelOf(env),
    smtpRequireTls: env.SMTP_REQUIRE_TLS ?? !env.HERALD_DEV,
    webhooks: webhookEndpoints(env).endpoints,
    // An API without tokens (dev mode) listens on loopback only, unless told otherwise.
    httpHost: env.HERALD_HTTP_HOST ?? (env.HERALD_API_TOKENS.length === 0 ? "127.0.0.1" : "0.0.0.0"),
  }));

export type Config = z.output<typeof configSchema>;

/** The path Twilio posts message status callbacks to (served by the HTTP API, outside the bearer-token check). */
export const TWILIO_CALLBACK_PATH = "/v1/callbacks/twilio";

/** `HERALD_PUBLIC_URL` + the callback path: what Twilio is given as StatusCallback and what its signature covers. */
export function twilioCallbackUrl(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, "") + TWILIO_CALLBACK_PATH;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Reads the environment once at start; a bad value stops start-up with the variable named. So does a
 * HERALD_* variable Herald does not know (a misspelled setting would otherwise be silently ignored),
 * except in development, where it is returned in `warnings` for the caller to log.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config & { warnings: string[] } {
  const result = configSchema.safeParse(env);
  if (!result.success) throw new ConfigError(describeEnvIssues(result.error));
  const unknown = unknownVariables(env);
  if (unknown.length > 0 && !result.data.HERALD_DEV) {
    throw new ConfigError(`invalid configuration:\n  ${unknown.join("\n  ")}\n  (with HERALD_DEV=1 these are warnings)`);
  }
  return { ...result.data, warnings: unknown };
}

/** One message per HERALD_* variable in the environment that Herald does not read, with the closest real name. */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter(
      (name) =>
        name.startsWith("HERALD_") &&
        !name.startsWith("HERALD_TEST_") &&
        env[name] !== undefined &&
        !CONFIG_VARIABLES.includes(name) &&
        !TOOLING_VARIABLES.includes(name),
    )
    .sort()
    .map((name) => {
      const near = closestName(name, CONFIG_VARIABLES);
      return `${name} is not a Herald setting${near ? `; did you mean ${near}?` : ""}`;
    });
}

/** Why a worker for these channels cannot start: a channel with no provider configured (outside development). */
export function providerIssues(config: Config, channels: readonly ("email" | "sms")[]): string[] {
  const issues: string[] = [];
  if (channels.includes("email") && !config.emailChannel) {
    issues.push(
      "SMTP_URL is not set: the email worker has nowhere to deliver. Set SMTP_URL and SMTP_FROM, or HERALD_EMAIL_CHANNEL=outbox to write mails as files to HERALD_OUTBOX_DIR on purpose (or HERALD_DEV=1 on a development machine)",
    );
  }
  if (channels.includes("sms") && !config.smsChannel) {
    issues.push(
      "TWILIO_ACCOUNT_SID is not set: the SMS worker has nowhere to deliver. Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM (or TWILIO_MESSAGING_SERVICE_SID), or HERALD_SMS_CHANNEL=outbox to write SMS as files to HERALD_OUTBOX_DIR on purpose (or HERALD_DEV=1 on a development machine)",
    );
  }
  return issues;
}
