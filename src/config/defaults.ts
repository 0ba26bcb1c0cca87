/**
 * The defaults every part shares: the service's configuration (config/index.ts), the producer SDK and
 * the queues read them from here, so a producer and a worker never disagree about an unset setting.
 */

/** `{herald}`: the braces are a Redis Cluster hash tag, so all of Herald's keys land in one slot. */
export const DEFAULT_PREFIX = "{herald}";

/** A prefix that starts with a hash tag keeps every key of Herald's queues in one Redis Cluster slot. */
export const HASH_TAGGED = /^\{[^{}]+\}/;

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
export const DEFAULT_DATA_DIR = "./.herald";

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  keepCompletedSeconds: number;
  keepCompletedCount: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, backoffMs: 5000, keepCompletedSeconds: 86_400, keepCompletedCount: 10_000 };

/** Idempotency window: two enqueues with one key inside it deliver once. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Resend limits and the SMS-pumping guard. 0 turns a limit off. Reference points: Keycloak waits 30 s
 * between two mails of one kind, Supabase 60 s and 30 mails an hour per project.
 */
export interface LimitPolicy {
  /** Between two sends of the same kind to the same address. */
  cooldownSeconds: number;
  /** Sends to one address (mail or number) per rolling hour, all kinds together. */
  addressPerHour: number;
  /** Sends to one recipient.userId per rolling hour, all kinds and addresses together. */
  userPerHour: number;
  /** SMS to one country per rolling hour; the next one opens the country's breaker. */
  smsCountryPerHour: number;
  /** How long an open country breaker refuses SMS to that country. */
  smsCountryBreakerSeconds: number;
}

/**
 * The limits a tenant may set for its own jobs (the tenants file's `limits:`, Herald's `limits.tenants`):
 * those per recipient. The SMS country cap and breaker count every tenant's SMS together, so they are global.
 */
export type TenantLimitPolicy = Pick<LimitPolicy, "cooldownSeconds" | "addressPerHour" | "userPerHour">;

/** The LimitPolicy fields a tenant may not set. */
export const GLOBAL_ONLY_LIMITS = ["smsCountryPerHour", "smsCountryBreakerSeconds"] as const;

export const DEFAULT_LIMITS: LimitPolicy = {
  cooldownSeconds: 30,
  addressPerHour: 5,
  userPerHour: 10,
  smsCountryPerHour: 1000,
  smsCountryBreakerSeconds: 3600,
};
