import type { JobsOptions } from "bullmq";

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  keepCompletedSeconds: number;
  keepCompletedCount: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, backoffMs: 5000, keepCompletedSeconds: 86_400, keepCompletedCount: 10_000 };

/** Idempotency window: two enqueues with one key inside it deliver once. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export function deliveryJobOptions(policy: RetryPolicy): JobsOptions {
  return {
    attempts: policy.attempts,
    // Exponential with jitter so a provider outage is not followed by a thundering herd.
    backoff: { type: "exponential", delay: policy.backoffMs, jitter: 0.5 },
    removeOnComplete: { age: policy.keepCompletedSeconds, count: policy.keepCompletedCount },
    // Failed jobs are kept until the dead-letter mover has copied them; it removes them itself.
    removeOnFail: false,
  };
}

/** The retry policy the configuration describes (workers, producers and dead-letter replays share it). */
export function retryPolicyOf(config: { HERALD_ATTEMPTS: number; HERALD_BACKOFF_MS: number; HERALD_KEEP_COMPLETED_S: number; HERALD_KEEP_COMPLETED_COUNT: number }): RetryPolicy {
  return {
    attempts: config.HERALD_ATTEMPTS,
    backoffMs: config.HERALD_BACKOFF_MS,
    keepCompletedSeconds: config.HERALD_KEEP_COMPLETED_S,
    keepCompletedCount: config.HERALD_KEEP_COMPLETED_COUNT,
  };
}
