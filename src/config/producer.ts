import { isSupportedCountry } from "libphonenumber-js";
import { z } from "zod";
import { decodeKey, KeyError, parseKeyList } from "../secrets/key.js";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_LIMITS,
  DEFAULT_PREFIX,
  DEFAULT_REDIS_URL,
  DEFAULT_RETRY,
  HASH_TAGGED,
  type LimitPolicy,
  type RetryPolicy,
} from "./defaults.js";
import { describeEnvIssues, flag, int, optionalText, urlWith } from "./env.js";
import { checkRedisVariables, redisVariables } from "./redis.js";

/** Each shard is a BullMQ worker with its own blocking connection per channel in every worker process: 64 at most. */
export const MAX_SHARDS = 64;

/** A check that throws a KeyError with the variable named (the key itself never appears in it). */
const keyCheck = (check: (v: string) => unknown) => (value: string | undefined, ctx: z.RefinementCtx) => {
  if (value === undefined) return;
  try {
    check(value);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
  }
};

/**
 * The settings a producer reads: where Redis is, the queues' prefix, the retry policy its jobs carry and
 * the keys that seal them. The service's configuration (config/index.ts) is these plus its own, so the
 * SDK, the CLI and the API enqueue alike from one environment.
 */
export const producerVariables = {
  REDIS_URL: urlWith("REDIS_URL", /^(redis|rediss):$/)
    .refine((v) => /^\/?(\d{1,5})?$/.test(new URL(v).pathname), "REDIS_URL: the path may only be a database number, e.g. redis://host:6379/0")
    .default(DEFAULT_REDIS_URL),
  ...redisVariables,
  HERALD_PREFIX: z.string().regex(HASH_TAGGED, "HERALD_PREFIX must start with a Redis Cluster hash tag such as {herald}").default(DEFAULT_PREFIX),
  // Exponential backoff doubles each time: 20 tries from 5 s already span about 60 days.
  HERALD_ATTEMPTS: int("HERALD_ATTEMPTS", 1, 20).default(DEFAULT_RETRY.attempts),
  HERALD_BACKOFF_MS: int("HERALD_BACKOFF_MS", 1, 3_600_000).default(DEFAULT_RETRY.backoffMs),
  HERALD_KEEP_COMPLETED_S: int("HERALD_KEEP_COMPLETED_S", 0, 30 * 86_400).default(DEFAULT_RETRY.keepCompletedSeconds),
  HERALD_KEEP_COMPLETED_COUNT: int("HERALD_KEEP_COMPLETED_COUNT", 0, 10_000_000).default(DEFAULT_RETRY.keepCompletedCount),
  HERALD_ENCRYPTION_KEY: optionalText.superRefine(keyCheck((v) => decodeKey(v, "HERALD_ENCRYPTION_KEY"))),
  HERALD_ENCRYPTION_KEYS: optionalText.superRefine(keyCheck((v) => parseKeyList(v))),
  HERALD_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  HERALD_DEV: flag.default(false),
  // Resend limits and the SMS-pumping guard, checked at every enqueue (README: "Protecting against abuse").
  HERALD_LIMITS: flag.default(true),
  HERALD_LIMIT_COOLDOWN_S: int("HERALD_LIMIT_COOLDOWN_S", 0, 86_400).default(DEFAULT_LIMITS.cooldownSeconds),
  HERALD_LIMIT_ADDRESS_PER_HOUR: int("HERALD_LIMIT_ADDRESS_PER_HOUR", 0, 1_000_000).default(DEFAULT_LIMITS.addressPerHour),
  HERALD_LIMIT_USER_PER_HOUR: int("HERALD_LIMIT_USER_PER_HOUR", 0, 1_000_000).default(DEFAULT_LIMITS.userPerHour),
  HERALD_SMS_COUNTRY_PER_HOUR: int("HERALD_SMS_COUNTRY_PER_HOUR", 0, 10_000_000).default(DEFAULT_LIMITS.smsCountryPerHour),
  HERALD_SMS_COUNTRY_BREAKER_S: int("HERALD_SMS_COUNTRY_BREAKER_S", 1, 7 * 86_400).default(DEFAULT_LIMITS.smsCountryBreakerSeconds),
  HERALD_SMS_ALLOWED_COUNTRIES: optionalText.transform((value, ctx) => {
    if (value === undefined || value === "*") return undefined;
    const codes = value
      .split(",")
      .map((c) => c.trim().toUpperCase())
      .filter(Boolean);
    const wrong = codes.filter((c) => !isSupportedCountry(c));
    if (wrong.length > 0 || codes.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `HERALD_SMS_ALLOWED_COUNTRIES must be ISO 3166 country codes, comma-separated (e.g. CH,DE,AT); not known: ${wrong.join(", ") || "(empty)"}`,
      });
      return z.NEVER;
    }
    return codes;
  }),
  HERALD_SHARDS: int("HERALD_SHARDS", 1, MAX_SHARDS).default(1),
  HERALD_REPLICAS_ACK: int("HERALD_REPLICAS_ACK", 0, 16).default(0),
  HERALD_REPLICAS_ACK_TIMEOUT_MS: int("HERALD_REPLICAS_ACK_TIMEOUT_MS", 1, 60_000).default(1000),
};

const producerSchema = z.object(producerVariables).superRefine(checkRedisVariables);

export type ProducerConfig = z.output<typeof producerSchema>;

export class ProducerConfigError extends Error {
  override readonly name = "ProducerConfigError";
}

/** The producer's slice of the environment; a bad value throws with the variable named. */
export function loadProducerConfig(env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const result = producerSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ProducerConfigError(describeEnvIssues(result.error));
}

/** The retry policy the configuration describes (workers, producers and dead-letter replays share it). */
export function retryPolicyOf(
  config: Pick<ProducerConfig, "HERALD_ATTEMPTS" | "HERALD_BACKOFF_MS" | "HERALD_KEEP_COMPLETED_S" | "HERALD_KEEP_COMPLETED_COUNT">,
): RetryPolicy {
  return {
    attempts: config.HERALD_ATTEMPTS,
    backoffMs: config.HERALD_BACKOFF_MS,
    keepCompletedSeconds: config.HERALD_KEEP_COMPLETED_S,
    keepCompletedCount: config.HERALD_KEEP_COMPLETED_COUNT,
  };
}

/** The limits the configuration describes (tenants may override each in the tenants file's `limits:`). */
export function limitPolicyOf(
  config: Pick<
    ProducerConfig,
    "HERALD_LIMIT_COOLDOWN_S" | "HERALD_LIMIT_ADDRESS_PER_HOUR" | "HERALD_LIMIT_USER_PER_HOUR" | "HERALD_SMS_COUNTRY_PER_HOUR" | "HERALD_SMS_COUNTRY_BREAKER_S"
  >,
): LimitPolicy {
  return {
    cooldownSeconds: config.HERALD_LIMIT_COOLDOWN_S,
    addressPerHour: config.HERALD_LIMIT_ADDRESS_PER_HOUR,
    userPerHour: config.HERALD_LIMIT_USER_PER_HOUR,
    smsCountryPerHour: config.HERALD_SMS_COUNTRY_PER_HOUR,
    smsCountryBreakerSeconds: config.HERALD_SMS_COUNTRY_BREAKER_S,
  };
}

/** Herald's `limits` option as the configuration describes it: false with HERALD_LIMITS=0 (tenants' own limits are added by the service). */
export function limitSettingsOf(
  config: Parameters<typeof limitPolicyOf>[0] & Pick<ProducerConfig, "HERALD_LIMITS" | "HERALD_SMS_ALLOWED_COUNTRIES">,
): false | { policy: LimitPolicy; smsAllowedCountries?: readonly string[] } {
  return config.HERALD_LIMITS ? { policy: limitPolicyOf(config), smsAllowedCountries: config.HERALD_SMS_ALLOWED_COUNTRIES } : false;
}

/**
 * A tenant's own limits in the tenants file (`tenants.<id>.limits`): any subset of the per-recipient limits.
 * The SMS country cap and breaker count all tenants' SMS together (one breaker per country): refused here,
 * naming the field, rather than silently ignored.
 */
const globalOnly = (variable: string) =>
  z.never({ error: `is global, not per tenant (the country's counter and breaker are shared by all tenants): set ${variable} instead` }).optional();
export const tenantLimitsSchema = z.strictObject({
  cooldownSeconds: z.number().int().min(0).max(86_400).optional(),
  addressPerHour: z.number().int().min(0).max(1_000_000).optional(),
  userPerHour: z.number().int().min(0).max(1_000_000).optional(),
  smsCountryPerHour: globalOnly("HERALD_SMS_COUNTRY_PER_HOUR"),
  smsCountryBreakerSeconds: globalOnly("HERALD_SMS_COUNTRY_BREAKER_S"),
});
