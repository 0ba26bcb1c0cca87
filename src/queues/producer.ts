import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import {
  channelOf,
  KIND_NAMES,
  parseJob,
  ValidationError,
  type ChannelName,
  type FieldIssue,
  type JobInput,
  type KindName,
  type LooseJob,
} from "../contracts/index.js";
import { decodeKey, loadKey } from "../secrets/key.js";
import { createRedis, type RedisInput } from "./connection.js";
import { DeadlineError, withDeadline } from "./deadline.js";
import { toEnvelope } from "./envelope.js";
import { DEFAULT_RETRY, IDEMPOTENCY_TTL_MS, deliveryJobOptions, type RetryPolicy } from "./job-options.js";
import { DEFAULT_PREFIX, QUEUE_OF_CHANNEL, assertPrefix } from "./names.js";

export interface HeraldOptions {
  /** A Redis URL or an ioredis client (Herald then leaves closing it to you). Default: REDIS_URL or redis://127.0.0.1:6379. */
  redis?: RedisInput;
  /** Queue key prefix; must start with a hash tag. Default `{herald}`. */
  prefix?: string;
  /** 32-byte key, raw or base64. Default: HERALD_ENCRYPTION_KEY, else the dev key in `<dataDir>/encryption.key`. */
  encryptionKey?: string | Buffer;
  /** Default: HERALD_DATA_DIR or ./.herald */
  dataDir?: string;
  retry?: Partial<RetryPolicy>;
  /** How long an enqueue may wait for Redis before it fails (BullMQ itself would wait for a lost connection forever). Default 10 s. */
  timeoutMs?: number;
  /** Told once when the dev key file is used instead of HERALD_ENCRYPTION_KEY. */
  onWarning?: (message: string) => void;
}

/** Redis did not answer in time; the job may still be written when it comes back. */
export class EnqueueTimeoutError extends DeadlineError {
  override readonly name: string = "EnqueueTimeoutError";
  constructor(ms: number, cause?: Error) {
    super("enqueue", ms);
    this.message = `Redis did not answer within ${ms} ms${cause ? ` (last error: ${cause.message})` : ""}. The job may still be queued when Redis is back: retry with the same idempotencyKey to send it at most once.`;
  }
}

export interface EnqueueResult {
  id: string;
  kind: KindName;
  channel: ChannelName;
  /** True when an earlier job with the same idempotencyKey (within 24 h) was found; `id` is then that job's. */
  deduplicated: boolean;
}

export interface BulkItem<K extends KindName = KindName> {
  kind: K;
  job: JobInput<K>;
}

/** `password-reset` → `passwordReset`: the SDK's method name for a kind. */
type MethodName<K extends string> = K extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<MethodName<Tail>>}` : K;

/** One typed method per kind, e.g. `herald.passwordReset(job)`, the same as `herald.enqueue("password-reset", job)`. */
export type KindMethods = { [K in KindName as MethodName<K>]: (job: JobInput<K>) => Promise<EnqueueResult> };

export function methodName<K extends KindName>(kind: K): MethodName<K> {
  return kind.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()) as MethodName<K>;
}

/**
 * The producer SDK. Validates every job against its contract before anything reaches Redis, seals the
 * secrets, and enqueues on the channel's queue. It never imports worker, template or provider code.
 */
// Declaration merging gives the class the per-kind methods that are added to its prototype below.
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the methods are defined right after the class
export interface Herald extends KindMethods {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class Herald {
  private readonly connection: Redis;
  private readonly ownsConnection: boolean;
  private readonly queues = new Map<ChannelName, Queue>();
  private readonly key: Buffer;
  readonly prefix: string;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private lastRedisError?: Error;

  constructor(opts: HeraldOptions = {}) {
    this.prefix = assertPrefix(opts.prefix ?? process.env.HERALD_PREFIX ?? DEFAULT_PREFIX);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.key = resolveKey(opts);
    const redis = opts.redis ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    this.ownsConnection = typeof redis === "string";
    this.connection = typeof redis === "string" ? createRedis(redis, "producer") : redis;
  }

  /** Validates and enqueues one job; throws ValidationError (nothing enqueued) if any field is wrong. */
  async enqueue<K extends KindName>(kind: K, input: JobInput<K>): Promise<EnqueueResult> {
    const [prepared] = this.prepare([{ kind, job: input }]);
    const job = await this.deadline(this.queue(prepared.channel).add(prepared.kind, prepared.data, prepared.opts));
    return { id: job.id!, kind, channel: prepared.channel, deduplicated: job.id !== prepared.opts.jobId };
  }

  /**
   * Validates every item first and enqueues none if any is wrong (the error names `items.N.field`);
   * then adds them per queue in one atomic batch each.
   */
  async enqueueBulk(items: BulkItem[]): Promise<EnqueueResult[]> {
    const prepared = this.prepare(items);
    const results: EnqueueResult[] = new Array(prepared.length);
    for (const channel of new Set(prepared.map((p) => p.channel))) {
      const batch = prepared.map((p, index) => ({ p, index })).filter(({ p }) => p.channel === channel);
      const jobs = await this.deadline(this.queue(channel).addBulk(batch.map(({ p }) => ({ name: p.kind, data: p.data, opts: p.opts }))));
      jobs.forEach((job, i) => {
        const { p, index } = batch[i];
        results[index] = { id: job.id!, kind: p.kind, channel, deduplicated: job.id !== p.opts.jobId };
      });
    }
    return results;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }

  private prepare(items: BulkItem[]) {
    const issues: FieldIssue[] = [];
    const now = Date.now();
    const prepared = items.map(({ kind, job: input }, index) => {
      const prefix = items.length > 1 ? `items.${index}.` : "";
      try {
        const job: LooseJob = parseJob(kind, input);
        if (job.expiresAt && Date.parse(job.expiresAt) <= now) {
          throw new ValidationError(kind, [{ field: "expiresAt", message: "is in the past: the code has already expired" }]);
        }
        const channel = channelOf(kind, job);
        const opts = {
          ...deliveryJobOptions(this.retry),
          jobId: randomUUID(),
          ...(job.idempotencyKey ? { deduplication: { id: `${kind}:${job.idempotencyKey}`, ttl: IDEMPOTENCY_TTL_MS } } : {}),
        };
        return { kind, channel, opts, data: toEnvelope(kind, job, this.key, now) };
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push(...error.issues.map((i) => ({ field: prefix + i.field, message: i.message })));
        return undefined;
      }
    });
    if (issues.length > 0) throw new ValidationError(items.length === 1 ? items[0].kind : "bulk", issues);
    return prepared as NonNullable<(typeof prepared)[number]>[];
  }

  private deadline<T>(work: Promise<T>): Promise<T> {
    return withDeadline(work, this.timeoutMs, "enqueue").catch((error: unknown) => {
      throw error instanceof DeadlineError ? new EnqueueTimeoutError(this.timeoutMs, this.lastRedisError) : error;
    });
  }

  private queue(channel: ChannelName): Queue {
    let queue = this.queues.get(channel);
    if (!queue) {
      queue = new Queue(QUEUE_OF_CHANNEL[channel], { connection: this.connection, prefix: this.prefix });
      // Kept for the timeout message instead of BullMQ printing every reconnect failure to the console.
      queue.on("error", (error) => (this.lastRedisError = error));
      this.queues.set(channel, queue);
    }
    return queue;
  }
}

function resolveKey(opts: HeraldOptions): Buffer {
  if (Buffer.isBuffer(opts.encryptionKey)) return decodeKey(opts.encryptionKey.toString("base64"), "encryptionKey");
  if (opts.encryptionKey) return decodeKey(opts.encryptionKey, "encryptionKey");
  const loaded = loadKey({ base64: process.env.HERALD_ENCRYPTION_KEY, dataDir: opts.dataDir ?? process.env.HERALD_DATA_DIR ?? "./.herald" });
  if (loaded.generatedFile) {
    (opts.onWarning ?? ((m: string) => process.emitWarning(m, "HeraldWarning")))(`HERALD_ENCRYPTION_KEY is not set; using the dev key in ${loaded.generatedFile}. Set HERALD_ENCRYPTION_KEY in production and give producers and workers the same key.`);
  }
  return loaded.key;
}

// A new kind gets its method from its contract alone.
for (const kind of KIND_NAMES) {
  Object.defineProperty(Herald.prototype, methodName(kind), {
    value(this: Herald, job: JobInput<typeof kind>) {
      return this.enqueue(kind, job);
    },
    writable: true,
    configurable: true,
  });
}
