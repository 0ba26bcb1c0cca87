import { z } from "zod";
import { secretKey, WebhookSecretError } from "../webhooks/standard-webhooks.js";
import { int, optionalText, urlWith } from "./env.js";

/** `a,b,c` → each URL checked with the scheme `urlWith` allows; undefined when unset. */
const urlList = (name: string, protocols: RegExp) =>
  optionalText.transform((value, ctx) => {
    if (value === undefined) return undefined;
    const urls = value
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean);
    const check = urlWith(name, protocols);
    for (const [i, url] of urls.entries()) {
      const result = check.safeParse(url);
      if (!result.success) ctx.addIssue({ code: "custom", message: `${name} entry ${i + 1}: ${result.error.issues[0]?.message ?? "invalid"}` });
    }
    return urls;
  });

const channelList = (name: string) =>
  optionalText.transform((value, ctx) => {
    if (value === undefined) return [] as ("email" | "sms")[];
    const names = value
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    if (names.some((n) => n !== "email" && n !== "sms")) ctx.addIssue({ code: "custom", message: `${name} must list email and/or sms, comma-separated` });
    return names as ("email" | "sms")[];
  });

/**
 * Fallback providers, the HTTP provider and the per-provider circuit breaker; spread into the service's
 * schema (config/index.ts). Cross-field rules are in providerEnvIssues.
 */
export const providerEnvShape = {
  /** One or more smtp(s):// URLs tried in order after SMTP_URL when it fails transiently. */
  SMTP_FALLBACK_URL: urlList("SMTP_FALLBACK_URL", /^(smtp|smtps):$/),
  TWILIO_FALLBACK_ACCOUNT_SID: optionalText.pipe(
    z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, "TWILIO_FALLBACK_ACCOUNT_SID must look like AC followed by 32 hex digits")
      .optional(),
  ),
  TWILIO_FALLBACK_AUTH_TOKEN: optionalText,
  TWILIO_FALLBACK_FROM: optionalText,
  TWILIO_FALLBACK_MESSAGING_SERVICE_SID: optionalText.pipe(
    z
      .string()
      .regex(/^MG[0-9a-fA-F]{32}$/, "TWILIO_FALLBACK_MESSAGING_SERVICE_SID must look like MG followed by 32 hex digits")
      .optional(),
  ),
  TWILIO_FALLBACK_API_BASE_URL: optionalText.pipe(urlWith("TWILIO_FALLBACK_API_BASE_URL", /^(http|https):$/).optional()),
  HERALD_HTTP_PROVIDER_URL: optionalText.pipe(urlWith("HERALD_HTTP_PROVIDER_URL", /^(http|https):$/).optional()),
  /** `whsec_…`, comma-separated during a rotation (each signs). */
  HERALD_HTTP_PROVIDER_SECRET: optionalText.transform((value, ctx) => {
    if (value === undefined) return undefined;
    const secrets = value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const [i, secret] of secrets.entries()) {
      try {
        if (!secret.startsWith("whsec_")) throw new WebhookSecretError("must start with whsec_");
        secretKey(secret);
      } catch (error) {
        // The secret itself never appears in the message.
        ctx.addIssue({ code: "custom", message: `HERALD_HTTP_PROVIDER_SECRET entry ${i + 1}: ${(error as Error).message}` });
      }
    }
    return secrets;
  }),
  HERALD_HTTP_PROVIDER_TIMEOUT_MS: int("HERALD_HTTP_PROVIDER_TIMEOUT_MS", 100, 120_000).default(10_000),
  /** Channels whose last fallback is the HTTP provider (`email`, `sms`). */
  HERALD_HTTP_PROVIDER_FALLBACK: channelList("HERALD_HTTP_PROVIDER_FALLBACK"),
  HERALD_BREAKER_FAILURES: int("HERALD_BREAKER_FAILURES", 1, 1000).default(5),
  HERALD_BREAKER_COOLOFF_MS: int("HERALD_BREAKER_COOLOFF_MS", 100, 3_600_000).default(30_000),
};

type ProviderEnv = z.output<z.ZodObject<typeof providerEnvShape>> & { HERALD_EMAIL_CHANNEL?: string; HERALD_SMS_CHANNEL?: string };

/** Settings that are wrong together: the HTTP provider without its secret (fails closed), a fallback Twilio account half set. */
export function providerEnvIssues(env: ProviderEnv): { variable: string; message: string }[] {
  const issues: { variable: string; message: string }[] = [];
  const httpUsed = env.HERALD_EMAIL_CHANNEL === "http" || env.HERALD_SMS_CHANNEL === "http" || env.HERALD_HTTP_PROVIDER_FALLBACK.length > 0;
  if (env.HERALD_HTTP_PROVIDER_URL && !env.HERALD_HTTP_PROVIDER_SECRET?.length) {
    issues.push({
      variable: "HERALD_HTTP_PROVIDER_SECRET",
      message:
        "HERALD_HTTP_PROVIDER_SECRET is required with HERALD_HTTP_PROVIDER_URL: messages are only sent signed (whsec_ followed by base64 of 32 random bytes)",
    });
  }
  if (httpUsed && !env.HERALD_HTTP_PROVIDER_URL) {
    issues.push({
      variable: "HERALD_HTTP_PROVIDER_URL",
      message: "HERALD_HTTP_PROVIDER_URL is required when HERALD_EMAIL_CHANNEL or HERALD_SMS_CHANNEL is http or HERALD_HTTP_PROVIDER_FALLBACK is set",
    });
  }
  if (env.TWILIO_FALLBACK_ACCOUNT_SID) {
    if (!env.TWILIO_FALLBACK_AUTH_TOKEN)
      issues.push({ variable: "TWILIO_FALLBACK_AUTH_TOKEN", message: "TWILIO_FALLBACK_AUTH_TOKEN is required with TWILIO_FALLBACK_ACCOUNT_SID" });
    if (!env.TWILIO_FALLBACK_FROM === !env.TWILIO_FALLBACK_MESSAGING_SERVICE_SID)
      issues.push({ variable: "TWILIO_FALLBACK_FROM", message: "set exactly one of TWILIO_FALLBACK_FROM or TWILIO_FALLBACK_MESSAGING_SERVICE_SID" });
  } else if (env.TWILIO_FALLBACK_AUTH_TOKEN || env.TWILIO_FALLBACK_FROM || env.TWILIO_FALLBACK_MESSAGING_SERVICE_SID) {
    issues.push({ variable: "TWILIO_FALLBACK_ACCOUNT_SID", message: "TWILIO_FALLBACK_ACCOUNT_SID is required for a fallback Twilio sender" });
  }
  return issues;
}
