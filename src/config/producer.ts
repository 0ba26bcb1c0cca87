import { z } from "zod";
import { decodeKey, KeyError, parseKeyList } from "../secrets/key.js";
import { DEFAULT_DATA_DIR, DEFAULT_PREFIX, DEFAULT_REDIS_URL, DEFAULT_RETRY, HASH_TAGGED, type RetryPolicy } from "./defaults.js";
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
