import type { JobsOptions } from "bullmq";
import type { RetryPolicy } from "../config/defaults.js";

export { DEFAULT_RETRY, IDEMPOTENCY_TTL_MS, type RetryPolicy } from "../config/defaults.js";

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

export { retryPolicyOf } from "../config/producer.js";
