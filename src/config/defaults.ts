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
