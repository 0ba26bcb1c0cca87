import { statSync } from "node:fs";
import { z } from "zod";
import { dkimIssues } from "./channels/dkim.js";
import { describeEnvIssues, flag, httpEnvShape } from "./http/config.js";
import { HASH_TAGGED } from "./queues/names.js";

const int = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);


const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const urlWith = (name: string, protocols: RegExp) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.test(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `${name} must be a URL with scheme ${protocols.source.replace(/[\\^$():]/g, "").replace(/\|/g, " or ")}`);

const isFile = (path: string) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** Every setting Herald reads, from the environment only. README's config table mirrors this (a test checks). */
const variables = {
  REDIS_URL: urlWith("REDIS_URL", /^(redis|rediss):$/).default("redis://127.0.0.1:6379"),
  HERALD_PREFIX: z.string().regex(HASH_TAGGED, "HERALD_PREFIX must start with a Redis Cluster hash tag such as {herald}").default("{herald}"),
  // Exponential backoff doubles each time: 20 tries from 5 s already span about 60 days.
  HERALD_ATTEMPTS: int("HERALD_ATTEMPTS", 1, 20).default(8),
  HERALD_BACKOFF_MS: int("HERALD_BACKOFF_MS", 1, 3_600_000).default(5000),
  HERALD_EMAIL_CONCURRENCY: int("HERALD_EMAIL_CONCURRENCY", 1, 1000).default(10),
  HERALD_SMS_CONCURRENCY: int("HERALD_SMS_CONCURRENCY", 1, 1000).default(5),
  HERALD_EMAIL_RATE_PER_SECOND: int("HERALD_EMAIL_RATE_PER_SECOND", 1, 100_000).optional(),
  HERALD_SMS_RATE_PER_SECOND: int("HERALD_SMS_RATE_PER_SECOND", 1, 100_000).optional(),
  HERALD_LOCK_MS: int("HERALD_LOCK_MS", 1000, 600_000).default(10_000),
  HERALD_STALLED_INTERVAL_MS: int("HERALD_STALLED_INTERVAL_MS", 500, 600_000).default(5_000),
  HERALD_KEEP_COMPLETED_S: int("HERALD_KEEP_COMPLETED_S", 0, 30 * 86_400).default(86_400),
  HERALD_KEEP_COMPLETED_COUNT: int("HERALD_KEEP_COMPLETED_COUNT", 0, 10_000_000).default(10_000),
  HERALD_ENCRYPTION_KEY: optionalText,
  HERALD_DATA_DIR: z.string().min(1).default("./.herald"),
  HERALD_OUTBOX_DIR: z.string().min(1).default("./outbox"),
  HERALD_EMAIL_CHANNEL: z.enum(["smtp", "outbox"], { error: "must be smtp or outbox" }).optional(),
  HERALD_SMS_CHANNEL: z.enum(["twilio", "outbox"], { error: "must be twilio or outbox" }).optional(),
  HERALD_TENANTS_FILE: optionalText.refine((v) => v === undefined || isFile(v), { error: (i) => `HERALD_TENANTS_FILE: there is no file ${String(i.input)}` }),
  HERALD_TEMPLATES_DIR: optionalText.refine((v) => v === undefined || isDirectory(v), { error: (i) => `HERALD_TEMPLATES_DIR: there is no folder ${String(i.input)}` }),
  SMTP_URL: optionalText.pipe(urlWith("SMTP_URL", /^(smtp|smtps):$/).optional()),
  SMTP_FROM: optionalText,
  SMTP_POOL_SIZE: int("SMTP_POOL_SIZE", 1, 100).default(5),
  SMTP_DKIM_DOMAIN: optionalText,
  SMTP_DKIM_SELECTOR: optionalText,
  SMTP_DKIM_PRIVATE_KEY: optionalText,
  TWILIO_ACCOUNT_SID: optionalText.pipe(z.string().regex(/^AC[0-9a-fA-F]{32}$/, "TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits").optional()),
  TWILIO_AUTH_TOKEN: optionalText,
  TWILIO_FROM: optionalText,
  TWILIO_MESSAGING_SERVICE_SID: optionalText.pipe(z.string().regex(/^MG[0-9a-fA-F]{32}$/, "TWILIO_MESSAGING_SERVICE_SID must look like MG followed by 32 hex digits").optional()),
  TWILIO_API_BASE_URL: optionalText.pipe(urlWith("TWILIO_API_BASE_URL", /^(http|https):$/).optional()),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HERALD_DEV: flag.default(false),
  HERALD_METRICS_PORT: int("HERALD_METRICS_PORT", 0, 65_535).optional(),
  ...httpEnvShape,
};

export const CONFIG_VARIABLES = Object.keys(variables);

/** The provider per channel: as configured, else the real one whose settings are there, else the outbox. */
const emailChannelOf = (env: { HERALD_EMAIL_CHANNEL?: "smtp" | "outbox"; SMTP_URL?: string }) => env.HERALD_EMAIL_CHANNEL ?? (env.SMTP_URL ? "smtp" : "outbox");
const smsChannelOf = (env: { HERALD_SMS_CHANNEL?: "twilio" | "outbox"; TWILIO_ACCOUNT_SID?: string }) => env.HERALD_SMS_CHANNEL ?? (env.TWILIO_ACCOUNT_SID ? "twilio" : "outbox");

export const configSchema = z
  .object(variables)
  .superRefine((env, ctx) => {
    if (emailChannelOf(env) === "smtp") {
      if (!env.SMTP_URL) ctx.addIssue({ code: "custom", path: ["SMTP_URL"], message: "SMTP_URL is required when HERALD_EMAIL_CHANNEL=smtp" });
      if (!env.SMTP_FROM) ctx.addIssue({ code: "custom", path: ["SMTP_FROM"], message: 'SMTP_FROM is required with SMTP, e.g. "Acme <no-reply@acme.com>"' });
    }
    // DKIM signs SMTP and outbox mail alike, so it is checked whichever channel is chosen.
    for (const issue of dkimIssues(env)) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
    if (smsChannelOf(env) === "twilio") {
      if (!env.TWILIO_ACCOUNT_SID) ctx.addIssue({ code: "custom", path: ["TWILIO_ACCOUNT_SID"], message: "TWILIO_ACCOUNT_SID is required when HERALD_SMS_CHANNEL=twilio" });
      if (!env.TWILIO_AUTH_TOKEN) ctx.addIssue({ code: "custom", path: ["TWILIO_AUTH_TOKEN"], message: "TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID" });
      if (!env.TWILIO_FROM === !env.TWILIO_MESSAGING_SERVICE_SID) {
        ctx.addIssue({ code: "custom", path: ["TWILIO_FROM"], message: "set exactly one of TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID" });
      }
    }
  })
  .transform((env) => ({
    ...env,
    emailChannel: emailChannelOf(env),
    smsChannel: smsChannelOf(env),
    // An API without tokens (dev mode) listens on loopback only, unless told otherwise.
    httpHost: env.HERALD_HTTP_HOST ?? (env.HERALD_API_TOKENS.length === 0 ? "127.0.0.1" : "0.0.0.0"),
  }));

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads the environment once at start; a bad value stops start-up with the variable named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(describeEnvIssues(result.error));
}
