import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
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
import { IDEMPOTENCY_INFO, KeyedHasher } from "../secrets/hash.js";
import { decodeKey, loadKey, parseKeyList, type KeyMaterial, type Keyring } from "../secrets/key.js";
import { createRedis, redisTarget, waitForReplicas, type RedisClient, type RedisInput } from "./connection.js";
import { DeadlineError, withDeadline } from "./deadline.js";
import { toEnvelope } from "./envelope.js";
import { DeadLetters } from "./dead-letter.js";
import type { NotificationEvent } from "./notification-events.js";
import type { NotificationStatus } from "./status.js";
import { NotificationWatch } from "./watch.js";
import { bullmqTelemetry, inSpan, tracingActive } from "../telemetry/tracing.js";
import { limitPolicyOf, loadProducerConfig, retryPolicyOf, type ProducerConfig } from "../config/producer.js";
import { Limits, type LimitedJob, type LimitPolicy, type LimitSettings } from "./limits.js";
import { IDEMPOTENCY_TTL_MS, deliveryJobOptions, type RetryPolicy } from "./job-options.js";
import { DEAD_LETTER_QUEUE, QUEUE_OF_CHANNEL, assertPrefix, deliveryPrefixes, recipientKey, shardOf, shardPrefix } from "./names.js";

export interface HeraldOptions {
  /**
   * A Redis URL or an ioredis client, Redis or Cluster (Herald then leaves closing it to you). Default: the
   * environment's REDIS_CLUSTER_NODES, REDIS_SENTINELS or REDIS_URL (redis://127.0.0.1:6379), with its TLS settings.
   */
  redis?: RedisInput;
  /** Queue key prefix; must start with a hash tag. Default `{herald}`. */
  prefix?: string;
  /**
   * 32-byte key, raw or base64. Default: HERALD_ENCRYPTION_KEYS or HERALD_ENCRYPTION_KEY; without them an
   * error, unless `dev` (then the dev key in `<dataDir>/encryption.key`).
   */
  encryptionKey?: string | Buffer;
  /** Several keys for rotation, `kid:base64key,…` or a Keyring: the first seals new jobs. Default: HERALD_ENCRYPTION_KEYS. */
  encryptionKeys?: string | Keyring;
  /** Development mode: a missing key falls back to the dev key file. Default: HERALD_DEV=1. */
  dev?: boolean;
  /** Default: HERALD_DATA_DIR or ./.herald */
  dataDir?: string;
  retry?: Partial<RetryPolicy>;
  /** Shards per channel queue; producers and workers must agree. Default: HERALD_SHARDS or 1. */
  shards?: number;
  /**
   * Replicas that must hold a job before its enqueue resolves (Redis WAIT); 0 = the master's answer is
   * enough. Default: HERALD_REPLICAS_ACK or 0.
   */
  replicasAck?: number;
  /** How long to wait for them before a ReplicationTimeoutError. Default: HERALD_REPLICAS_ACK_TIMEOUT_MS or 1000. */
  replicasAckTimeoutMs?: number;
  /** How long an enqueue may wait for Redis before it fails (BullMQ itself would wait for a lost connection forever). Default 10 s. */
  timeoutMs?: number;
  /**
   * OpenTelemetry spans for enqueues, with the trace context carried in the job to the worker's spans.
   * Default: on when an OpenTelemetry SDK is registered in this process when the Herald is created.
   */
  tracing?: boolean;
  /** Told once when the dev key file is used instead of HERALD_ENCRYPTION_KEY. */
  onWarning?: (message: string) => void;
  /**
   * Resend limits and the SMS-pumping guard (README: "Protecting against abuse"). Default: on, with the
   * HERALD_LIMIT_* and HERALD_SMS_* settings (off with HERALD_LIMITS=0). Given here, they are on, and
   * what is given replaces those settings; `false` turns them off.
   */
  limits?: false | { policy?: Partial<LimitPolicy>; tenants?: LimitSettings["tenants"]; smsAllowedCountries?: readonly string[] };
}

/**
 * An enqueue that did not complete. Every enqueue gets its id from the SDK before its first write to
 * Redis, and `jobId` (`jobIds` for a bulk) is that id: enqueue again with `{ id: error.jobId }` and the
 * job is created at most once, however often you retry and whatever the first attempt did.
 */
export abstract class EnqueueError extends Error {
  /** `false`: nothing reached Redis. `"maybe"`: the job may be queued, or may appear once Redis answers. */
  abstract readonly queued: false | "maybe";
  constructor(
    message: string,
    readonly jobIds: [string, ...string[]],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** The id to enqueue again with (the first one's, for a bulk). */
  get jobId(): string {
    return this.jobIds[0];
  }
}

/** Redis could not be reached while the enqueue was tried (no connection was ready): nothing was written. */
export class NotQueuedError extends EnqueueError {
  override readonly name: string = "NotQueuedError";
  readonly queued = false as const;
  constructor(jobIds: [string, ...string[]], ms: number, cause?: Error) {
    super(
      `Redis could not be reached within ${ms} ms${cause ? ` (last error: ${cause.message})` : ""}; nothing was queued. Enqueue again with the same id (${jobIds[0]}) when Redis is back.`,
      jobIds,
      { cause },
    );
  }
}

/** Redis took the request but did not answer in time: the job may be queued, now or when Redis comes back. */
export class EnqueueTimeoutError extends EnqueueError {
  override readonly name: string = "EnqueueTimeoutError";
  readonly queued = "maybe" as const;
  constructor(
    jobIds: [string, ...string[]],
    readonly ms: number,
    cause?: Error,
  ) {
    super(
      `Redis did not answer within ${ms} ms${cause ? ` (last error: ${cause.message})` : ""}. The job may still be queued: enqueue again with the same id (${jobIds[0]}) and it is created at most once.`,
      jobIds,
      { cause },
    );
  }
}

/**
 * The job reached the Redis master, but fewer replicas than HERALD_REPLICAS_ACK confirmed it in time: a
 * failover now could lose it. Enqueueing again with the same id (or idempotency key) creates it at most once.
 */
export class ReplicationTimeoutError extends EnqueueError {
  override readonly name: string = "ReplicationTimeoutError";
  readonly queued = "maybe" as const;
  constructor(
    jobIds: [string, ...string[]],
    readonly wanted: number,
    readonly confirmed: number,
    readonly ms: number,
    cause?: Error,
  ) {
    super(
      `the job reached the Redis master but ${confirmed} of ${wanted} replica(s) confirmed it within ${ms} ms (HERALD_REPLICAS_ACK); a failover now could lose it. Enqueue again with the same id (${jobIds[0]}) or idempotency key: it is created at most once.`,
      jobIds,
      { cause },
    );
  }
}

export interface EnqueueOptions {
  /**
   * The job's id, a UUID. Give the `jobId` of an EnqueueError to retry that enqueue without risking a
   * second job; or your own UUID, chosen before the first try. Default: a new random UUID.
   */
  id?: string;
  /** Overrides the Herald's `timeoutMs` for this call. */
  timeoutMs?: number;
}

export interface EnqueueResult {
  id: string;
  kind: KindName;
  channel: ChannelName;
  /**
   * True when an earlier job with the same idempotencyKey (within 24 h) was found, `id` then being that
   * job's; or when the `id` you gave names a job that was already dead-lettered (nothing was added).
   */
  deduplicated: boolean;
}

export interface BulkItem<K extends KindName = KindName> {
  kind: K;
  job: JobInput<K>;
  /** As EnqueueOptions.id: the item's job id, e.g. from an EnqueueError's `jobIds` to retry a bulk. */
  id?: string;
}

/** `password-reset` → `passwordReset`: the SDK's method name for a kind. */
type MethodName<K extends string> = K extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<MethodName<Tail>>}` : K;

/** One typed method per kind, e.g. `herald.passwordReset(job)`, the same as `herald.enqueue("password-reset", job)`. */
export type KindMethods = { [K in KindName as MethodName<K>]: (job: JobInput<K>, options?: EnqueueOptions) => Promise<EnqueueResult> };

export function methodName<K extends KindName>(kind: K): MethodName<K> {
  return kind.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()) as MethodName<K>;
}

/**
 * The producer SDK. Validates every job against its contract before anything reaches Redis, seals the
 * secrets, and enqueues on the channel's queue. It never imports worker, template or provider code.
 */
// Declaration merging gives the class the per-kind methods that are added to its prototype below.
export interface Herald extends KindMethods {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class Herald {
  private readonly connection: RedisClient;
  private readonly ownsConnection: boolean;
  private readonly queues = new Map<string, Queue>();
  readonly shards: number;
  private readonly replicasAck: number;
  private readonly replicasAckTimeoutMs: number;
  private readonly key: KeyMaterial;
  readonly prefix: string;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private lastRedisError?: Error;
  private watcher?: NotificationWatch;
  private readonly tracing: boolean;
  private deadLetterQueue?: DeadLetters;
  /** The limit counters (show, reset), whether or not this producer enforces them. */
  readonly limits: Limits;
  private readonly enforceLimits: boolean;
  private idempotencyHasher?: KeyedHasher;

  constructor(opts: HeraldOptions = {}) {
    // Unset options come from the environment, read and checked exactly as the service reads it.
    const env = loadProducerConfig(process.env);
    this.prefix = assertPrefix(opts.prefix ?? env.HERALD_PREFIX);
    this.retry = { ...retryPolicyOf(env), ...opts.retry };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.tracing = opts.tracing ?? tracingActive();
    this.key = resolveKey(opts, env);
    this.shards = opts.shards ?? env.HERALD_SHARDS;
    this.replicasAck = opts.replicasAck ?? env.HERALD_REPLICAS_ACK;
    this.replicasAckTimeoutMs = opts.replicasAckTimeoutMs ?? env.HERALD_REPLICAS_ACK_TIMEOUT_MS;
    const redis = opts.redis ?? redisTarget(env);
    this.ownsConnection = typeof redis === "string" || !("status" in redis);
    this.connection = typeof redis === "string" || !("status" in redis) ? createRedis(redis, "producer") : redis;
    // Ours to report: without a listener ioredis prints every reconnect failure to the console.
    if (this.ownsConnection) this.connection.on("error", (error) => (this.lastRedisError = error));
    const limits = opts.limits || {};
    this.enforceLimits = opts.limits === undefined ? env.HERALD_LIMITS : opts.limits !== false;
    this.limits = new Limits(this.connection, this.prefix, this.key, {
      policy: { ...limitPolicyOf(env), ...limits.policy },
      tenants: limits.tenants,
      smsAllowedCountries: "smsAllowedCountries" in limits ? limits.smsAllowedCountries : env.HERALD_SMS_ALLOWED_COUNTRIES,
    });
  }

  /**
   * A keyed hash (HMAC-SHA256, key derived from the encryption key by HKDF) of `value`, for idempotency keys
   * built from a message's content (the identity-server adapters): stable for one encryption key, so a
   * message sent twice gets one key, and useless to anyone reading Redis without the key (a hashed 6-digit
   * code cannot be found by trying all of them). Always under the current key of a rotation keyring.
   */
  idempotencyHash(namespace: string, value: string): string {
    this.idempotencyHasher ??= new KeyedHasher(this.key, IDEMPOTENCY_INFO);
    return this.idempotencyHasher.hash(namespace, value);
  }

  /**
   * Validates and enqueues one job; throws ValidationError (nothing enqueued) if any field is wrong,
   * RateLimitedError (nothing enqueued, `retryAfter` seconds) over a limit, and NotQueuedError or
   * EnqueueTimeoutError (both with the job's id) when Redis does not take it in time.
   */
  async enqueue<K extends KindName>(kind: K, input: JobInput<K>, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    return inSpan(this.tracing, "herald.enqueue", { "herald.kind": kind }, async (span) => {
      const result = await this.enqueueOne(kind, input, options);
      span?.setAttributes({ "herald.notification_id": result.id, "herald.channel": result.channel, "herald.deduplicated": result.deduplicated });
      return result;
    });
  }

  private async enqueueOne<K extends KindName>(kind: K, input: JobInput<K>, options: EnqueueOptions): Promise<EnqueueResult> {
    const [prepared] = await this.prepare([{ kind, job: input, id: options.id }]);
    if (!prepared) throw new Error("Herald: preparing one job gave none"); // prepare() returns one per item or throws
    const { jobId } = prepared.opts;
    const queue = this.queue(prepared.channel, prepared.shard);
    let existed = false;
    const job = await this.write([jobId], options.timeoutMs, async () => {
      // A job that failed for good was removed from its queue; its id lives on as a dead letter, and
      // adding it again would send it a second time. Only a caller's own id can name one.
      if (options.id && (await this.deadLettered(queue.name, [jobId])).size > 0) return undefined;
      // BullMQ answers an add with a known id with that job, as if new: ask first, so a repeat says so.
      // (Two racing first requests may both say "new"; one job is created either way.)
      if (options.id) existed = (await this.connection.exists(queue.toKey(jobId))) > 0;
      // Counted once per idempotency key (or job id): a repeat, or this loop's own retry, passes uncounted.
      await this.checkLimits([limited(prepared)]);
      return queue.add(prepared.kind, prepared.data, prepared.opts);
    });
    if (job) await this.replicated(queue, [jobId]);
    if (!job) return { id: jobId, kind, channel: prepared.channel, deduplicated: true };
    return { id: job.id!, kind, channel: prepared.channel, deduplicated: existed || job.id !== jobId };
  }

  /**
   * Validates every item first (contract and SMS number guard) and enqueues none if any is wrong (the error
   * names `items.N.field`); then checks and counts the resend limits of the whole bulk in one step
   * (RateLimitedError naming `items.N`: nothing is queued and nothing counted); then adds the items per queue
   * (channel and shard) in one atomic batch each.
   */
  async enqueueBulk(items: BulkItem[], options: Omit<EnqueueOptions, "id"> = {}): Promise<EnqueueResult[]> {
    return inSpan(this.tracing, "herald.enqueue_bulk", { "herald.count": items.length }, () => this.enqueueMany(items, options));
  }

  private async enqueueMany(items: BulkItem[], options: Omit<EnqueueOptions, "id">): Promise<EnqueueResult[]> {
    const prepared = await this.prepare(items);
    const [firstId, ...otherIds] = prepared.map((p) => p.opts.jobId);
    if (firstId === undefined) return []; // an empty bulk writes nothing
    const ids: [string, ...string[]] = [firstId, ...otherIds];
    // Before any item is added: which are dead letters already (only a caller's own id can name one), and the limits of all the others.
    const live = await this.write(ids, options.timeoutMs, async () => {
      const own = prepared.filter((_, index) => items[index]?.id);
      const dead = new Set((await Promise.all(own.map((p) => this.deadLettered(QUEUE_OF_CHANNEL[p.channel], [p.opts.jobId])))).flatMap((found) => [...found]));
      const live = prepared.map((p, index) => ({ p, index })).filter(({ p }) => !dead.has(p.opts.jobId));
      await this.checkLimits(live.map(({ p }) => limited(p)));
      return live;
    });
    const results: EnqueueResult[] = prepared.map((p) => ({ id: p.opts.jobId, kind: p.kind, channel: p.channel, deduplicated: true }));
    for (const target of new Set(live.map(({ p }) => `${p.channel}:${p.shard}`))) {
      const batch = live.filter(({ p }) => `${p.channel}:${p.shard}` === target);
      const { channel, shard } = batch[0]!.p;
      const queue = this.queue(channel, shard);
      const jobs = await this.write(ids, options.timeoutMs, () => queue.addBulk(batch.map(({ p }) => ({ name: p.kind, data: p.data, opts: p.opts }))));
      if (jobs.length > 0) await this.replicated(queue, ids);
      jobs.forEach((job, i) => {
        const added = batch[i];
        if (!added) throw new Error(`BullMQ returned ${jobs.length} jobs for the ${batch.length} added`);
        const { p, index } = added;
        results[index] = { id: job.id!, kind: p.kind, channel, deduplicated: job.id !== p.opts.jobId };
      });
    }
    return results;
  }

  /**
   * Delivery events as they happen (`notification.accepted`, `notification.dead_lettered`), over BullMQ's
   * queue events in Redis, without HTTP: `for await (const event of herald.events()) …`. Events are
   * buffered from this call on; leave the loop (or abort `signal`) to stop.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<NotificationEvent> {
    return this.watch().events(options.signal);
  }

  /**
   * Resolves with the notification's status once the provider accepted it (`delivered`) or it was
   * dead-lettered (a replay is followed to its new job); rejects with WaitTimeoutError after `timeoutMs`
   * (default 30 s).
   */
  waitFor(id: string, options: { timeoutMs?: number } = {}): Promise<NotificationStatus> {
    return this.watch().waitFor(id, options.timeoutMs ?? 30_000);
  }

  private watch(): NotificationWatch {
    this.watcher ??= new NotificationWatch({
      connection: this.connection,
      prefix: this.prefix,
      deliveryPrefixes: deliveryPrefixes(this.prefix, this.shards),
      deadLetters: this.deadLetters(),
    });
    return this.watcher;
  }

  private deadLetters(): DeadLetters {
    this.deadLetterQueue ??= new DeadLetters(this.connection, this.prefix, this.retry);
    return this.deadLetterQueue;
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    await this.deadLetterQueue?.close();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    if (this.ownsConnection) await this.connection.quit().catch(() => this.connection.disconnect());
  }

  /** Checks and counts the limits of these items (already through the number guard in prepare()) in one step. */
  private async checkLimits(items: LimitedJob[]): Promise<void> {
    if (this.enforceLimits) await this.limits.checkAll(items);
  }

  /**
   * Validates every item (contract, id, expiry, and for an SMS the number guard) before anything is written;
   * throws one ValidationError listing every bad field. With limits off, an explicit
   * HERALD_SMS_ALLOWED_COUNTRIES still holds.
   */
  private async prepare(items: BulkItem[]) {
    const issues: FieldIssue[] = [];
    const now = Date.now();
    const guardNumbers = this.enforceLimits || this.limits.settings.smsAllowedCountries !== undefined;
    const prepared = await mapSequential(items, async ({ kind, job: input, id }, index) => {
      const prefix = items.length > 1 ? `items.${index}.` : "";
      try {
        if (id !== undefined && !UUID.test(id)) {
          throw new ValidationError(kind, [{ field: "id", message: "must be a UUID (e.g. the jobId of an EnqueueError)" }]);
        }
        const job: LooseJob = parseJob(kind, input);
        if (job.expiresAt && Date.parse(job.expiresAt) <= now) {
          throw new ValidationError(kind, [{ field: "expiresAt", message: "is in the past: the code has already expired" }]);
        }
        const channel = channelOf(kind, job);
        const opts = {
          ...deliveryJobOptions(this.retry),
          // Chosen before the first write, so every retry (ours or the caller's) names the same job.
          jobId: id?.toLowerCase() ?? randomUUID(),
          ...(job.idempotencyKey ? { deduplication: { id: `${kind}:${job.idempotencyKey}`, ttl: IDEMPOTENCY_TTL_MS } } : {}),
        };
        const shard = shardOf(recipientKey(channel, job), this.shards);
        const country = channel === "sms" && guardNumbers ? await this.limits.checkNumber(kind, job.recipient.phone!) : undefined;
        return { kind, channel, shard, opts, job, country, data: toEnvelope(kind, job, this.key, now) };
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push(...error.issues.map((i) => ({ field: prefix + i.field, message: i.message })));
        return undefined;
      }
    });
    if (issues.length > 0) throw new ValidationError(items.length === 1 ? items[0]!.kind : "bulk", issues);
    return prepared as NonNullable<(typeof prepared)[number]>[];
  }

  /**
   * Runs one write, retrying it with the same job ids (BullMQ adds no second job under an existing id)
   * until it succeeds or the time is up. A write is only issued on a ready connection: ioredis would
   * otherwise hold it in its offline queue and send it whenever Redis comes back, even after we gave up.
   * So if none was issued, nothing can reach Redis: NotQueuedError. Otherwise: EnqueueTimeoutError.
   */
  private async write<T>(ids: [string, ...string[]], timeoutMs = this.timeoutMs, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let issued = false;
    let lastError: Error | undefined;
    const failure = () =>
      issued ? new EnqueueTimeoutError(ids, timeoutMs, lastError ?? this.lastRedisError) : new NotQueuedError(ids, timeoutMs, lastError ?? this.lastRedisError);
    for (let tries = 0; ; tries++) {
      if (!(await this.ready(deadline))) throw failure();
      issued = true;
      try {
        return await withDeadline(attempt(), Math.max(1, deadline - Date.now()), "enqueue");
      } catch (error) {
        if (error instanceof DeadlineError) throw failure();
        if (!isConnectionError(error)) throw error;
        lastError = error as Error;
        // The connection dropped mid-write: try again (same ids) once it is back, a little later each time.
        await sleep(Math.min(50 * 2 ** tries, 1000, Math.max(0, deadline - Date.now())));
      }
    }
  }

  /** Which of these job ids of a delivery queue are dead letters now (a dead letter's id is `<queue>-<job id>`). */
  private async deadLettered(queueName: string, jobIds: string[]): Promise<Set<string>> {
    const found = await Promise.all(jobIds.map((id) => this.connection.exists(`${this.prefix}:${DEAD_LETTER_QUEUE}:${queueName}-${id}`)));
    return new Set(jobIds.filter((_, i) => (found[i] ?? 0) > 0));
  }

  /** Resolves true once the connection is ready (at once if it is), false if the deadline comes first. */
  private ready(deadline: number): Promise<boolean> {
    const connection = this.connection;
    if (connection.status === "ready") return Promise.resolve(true);
    if (connection.status === "wait") connection.connect().catch(() => {}); // a lazy client the caller passed
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        connection.off("ready", onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, deadline - Date.now()));
      connection.on("ready", onReady);
    });
  }

  /**
   * With HERALD_REPLICAS_ACK: resolves once that many replicas of the node holding the queue confirm
   * every write so far on this connection (Redis WAIT), else ReplicationTimeoutError.
   */
  private async replicated(queue: Queue, ids: [string, ...string[]]): Promise<void> {
    if (this.replicasAck <= 0) return;
    let confirmed = 0;
    try {
      confirmed = await waitForReplicas(this.connection, queue.keys.id!, this.replicasAck, this.replicasAckTimeoutMs);
    } catch (error) {
      throw new ReplicationTimeoutError(ids, this.replicasAck, 0, this.replicasAckTimeoutMs, error as Error);
    }
    if (confirmed < this.replicasAck) throw new ReplicationTimeoutError(ids, this.replicasAck, confirmed, this.replicasAckTimeoutMs);
  }

  private queue(channel: ChannelName, shard: number): Queue {
    const name = `${channel}:${shard}`;
    let queue = this.queues.get(name);
    if (!queue) {
      const telemetry = bullmqTelemetry(this.tracing);
      queue = new Queue(QUEUE_OF_CHANNEL[channel], {
        connection: this.connection,
        prefix: shardPrefix(this.prefix, shard, this.shards),
        ...(telemetry ? { telemetry } : {}),
      });
      // Kept for the timeout message instead of BullMQ printing every reconnect failure to the console.
      queue.on("error", (error) => (this.lastRedisError = error));
      this.queues.set(name, queue);
    }
    return queue;
  }
}

/** What the limits check needs of a prepared item. */
function limited(p: { kind: KindName; channel: ChannelName; opts: { jobId: string }; job: LooseJob; country?: string }): LimitedJob {
  return { kind: p.kind, channel: p.channel, jobId: p.opts.jobId, job: p.job, country: p.country };
}

async function mapSequential<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const [index, item] of items.entries()) out.push(await fn(item, index));
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** ioredis errors of a connection that is down or going down (the write may or may not have been sent). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { name?: string; message?: string; code?: string } | undefined;
  if (!e) return false;
  return (
    e.name === "MaxRetriesPerRequestError" ||
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"].includes(e.code ?? "") ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET/.test(e.message ?? "") ||
    // A Cluster or Sentinel failover under way: the write is retried (same ids) once a new master answers.
    /^(CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN)|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes/.test(
      e.message ?? "",
    )
  );
}

function resolveKey(opts: HeraldOptions, env: ProducerConfig): KeyMaterial {
  if (Buffer.isBuffer(opts.encryptionKey)) return decodeKey(opts.encryptionKey.toString("base64"), "encryptionKey");
  if (opts.encryptionKey) return decodeKey(opts.encryptionKey, "encryptionKey");
  if (opts.encryptionKeys) return typeof opts.encryptionKeys === "string" ? parseKeyList(opts.encryptionKeys, "encryptionKeys") : opts.encryptionKeys;
  const loaded = loadKey({
    HERALD_ENCRYPTION_KEY: env.HERALD_ENCRYPTION_KEY,
    HERALD_ENCRYPTION_KEYS: env.HERALD_ENCRYPTION_KEYS,
    dev: opts.dev ?? env.HERALD_DEV,
    dataDir: opts.dataDir ?? env.HERALD_DATA_DIR,
  });
  if (loaded.generatedFile) {
    (opts.onWarning ?? ((m: string) => process.emitWarning(m, "HeraldWarning")))(
      `HERALD_ENCRYPTION_KEY is not set; using the dev key in ${loaded.generatedFile}. Set HERALD_ENCRYPTION_KEY in production and give producers and workers the same key.`,
    );
  }
  return loaded.key;
}

// A new kind gets its method from its contract alone.
for (const kind of KIND_NAMES) {
  Object.defineProperty(Herald.prototype, methodName(kind), {
    value(this: Herald, job: JobInput<typeof kind>, options?: EnqueueOptions) {
      return this.enqueue(kind, job, options);
    },
    writable: true,
    configurable: true,
  });
}
