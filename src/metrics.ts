import type { EventEmitter } from "node:events";
import type { Job, Queue } from "bullmq";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { KINDS } from "./contracts/index.js";
import { FAILURE_CLASSES } from "./errors/index.js";
import type { Logger } from "./logger.js";
import { DeadLetters } from "./queues/dead-letter.js";
import { withDeadline } from "./queues/deadline.js";
import { channelOfQueue } from "./queues/names.js";

/** States whose job counts `herald_queue_jobs` reports per queue, read from Redis at scrape time. */
export const QUEUE_STATES = ["waiting", "prioritized", "active", "delayed", "failed", "completed", "waiting-children"] as const;

/** Enqueue → accepted by the provider, in seconds: from a fast SMTP hand-off to a day of retries. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];

export interface MetricsOptions {
  /** Default: a new Registry of Herald's own (prom-client's global one is left alone). */
  registry?: Registry;
  /** Queues whose depth per state is read at every scrape; more can be added with watchQueues(). */
  queues?: Queue[];
  /** Process metrics (CPU, memory, event loop lag, GC, handles); default true. */
  processMetrics?: boolean;
  /** To find a dead letter's provider error code when the `dead-lettered` event does not carry one. */
  deadLetters?: DeadLetters;
  /** How long a scrape waits for Redis before reporting `herald_redis_up 0`; default 2000 ms. */
  scrapeTimeoutMs?: number;
  logger?: Logger;
}

/** The parts of an enqueue result the metrics need (Herald.enqueue's result fits). */
export interface EnqueuedLike {
  kind: string;
  channel: string;
  deduplicated?: boolean;
}

/** The parts of a worker's DeliveryResult the metrics need. */
export interface DeliveredLike {
  provider?: string;
  enqueuedAt?: number;
  acceptedAt?: string;
}

type JobLike = Pick<Job, "name" | "queueName"> & { id?: string };

/**
 * Herald's Prometheus metrics. Fed by the API's enqueues (`enqueued`) and by the workers' events
 * (`attach(running.events)`); queue depths are read from Redis when scraped. No label ever carries
 * a recipient, code or link: labels are kind, channel, queue, state, failure class and error code.
 */
export class HeraldMetrics {
  readonly registry: Registry;
  readonly enqueuedTotal: Counter<"kind" | "channel">;
  readonly deduplicatedTotal: Counter<"kind" | "channel">;
  readonly deliveredTotal: Counter<"kind" | "channel">;
  readonly failedTotal: Counter<"kind" | "channel">;
  readonly retriesTotal: Counter<"kind" | "channel">;
  readonly deadLetteredTotal: Counter<"kind" | "channel" | "failure_class">;
  readonly providerErrorsTotal: Counter<"channel" | "code">;
  readonly unknownTenantTotal: Counter<"kind">;
  readonly rateLimitedTotal: Counter<"kind" | "limit">;
  readonly smsCountryBreakerOpenedTotal: Counter<"country">;
  readonly deliveryLatency: Histogram<"kind" | "channel">;
  readonly webhooksTotal: Counter<"endpoint" | "outcome">;
  readonly queueJobs: Gauge<"queue" | "state">;
  readonly redisUp: Gauge;

  readonly smsCountryBreakerOpen: Gauge<"country">;
  readonly providerDeliveriesTotal: Counter<"channel" | "provider">;
  readonly providerFailoversTotal: Counter<"channel" | "from" | "to">;
  readonly providerBreakerOpen: Gauge<"channel" | "provider">;

  private readonly queues = new Set<Queue>();
  private breakers?: () => Promise<{ country: string; retryAfter: number }[]>;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly deadLetters?: DeadLetters;
  private readonly logger?: Logger;

  constructor(opts: MetricsOptions = {}) {
    this.registry = opts.registry ?? new Registry();
    const registry = this.registry;
    this.deadLetters = opts.deadLetters;
    this.logger = opts.logger;
    const scrapeTimeoutMs = opts.scrapeTimeoutMs ?? 2000;
    const kindChannel = ["kind", "channel"] as const;

    this.enqueuedTotal = new Counter({
      name: "herald_jobs_enqueued_total",
      help: "Notifications accepted and queued (by this process's API), by kind and channel",
      labelNames: kindChannel,
      registers: [registry],
    });
    this.deduplicatedTotal = new Counter({
      name: "herald_jobs_deduplicated_total",
      help: "Enqueues answered with an earlier job because the idempotency key repeated",
      labelNames: kindChannel,
      registers: [registry],
    });
    this.deliveredTotal = new Counter({
      name: "herald_jobs_delivered_total",
      help: "Notifications accepted by the provider",
      labelNames: kindChannel,
      registers: [registry],
    });
    this.failedTotal = new Counter({
      name: "herald_jobs_failed_total",
      help: "Failed delivery attempts, whether retried or dead-lettered",
      labelNames: kindChannel,
      registers: [registry],
    });
    this.retriesTotal = new Counter({
      name: "herald_jobs_retries_total",
      help: "Failed delivery attempts that will be retried",
      labelNames: kindChannel,
      registers: [registry],
    });
    this.deadLetteredTotal = new Counter({
      name: "herald_jobs_dead_lettered_total",
      help: "Jobs moved to the dead-letter queue, by failure class",
      labelNames: ["kind", "channel", "failure_class"],
      registers: [registry],
    });
    this.providerErrorsTotal = new Counter({
      name: "herald_provider_errors_total",
      help: "Delivery errors by provider code, e.g. smtp-550, twilio-21211, ECONNREFUSED",
      labelNames: ["channel", "code"],
      registers: [registry],
    });
    this.unknownTenantTotal = new Counter({
      name: "herald_unknown_tenant_total",
      help: "Jobs rendered whose tenant.id is not in HERALD_TENANTS_FILE (default branding used); the log names the tenant",
      labelNames: ["kind"],
      registers: [registry],
    });
    this.rateLimitedTotal = new Counter({
      name: "herald_rate_limited_total",
      help: "Enqueues refused by a resend limit or the SMS-pumping guard (nothing queued), by kind and limit: cooldown, address, user, sms-country",
      labelNames: ["kind", "limit"],
      registers: [registry],
    });
    this.smsCountryBreakerOpenedTotal = new Counter({
      name: "herald_sms_country_breaker_opened_total",
      help: "Times a country's SMS breaker opened (more SMS to it in an hour than HERALD_SMS_COUNTRY_PER_HOUR): alert on any increase",
      labelNames: ["country"],
      registers: [registry],
    });
    this.providerDeliveriesTotal = new Counter({
      name: "herald_provider_deliveries_total",
      help: "Notifications accepted, by the provider that took them (smtp, smtp-fallback, twilio, twilio-fallback, http, outbox)",
      labelNames: ["channel", "provider"],
      registers: [registry],
    });
    this.providerFailoversTotal = new Counter({
      name: "herald_provider_failovers_total",
      help: "Sends moved on to the next provider after a transient failure",
      labelNames: ["channel", "from", "to"],
      registers: [registry],
    });
    this.providerBreakerOpen = new Gauge({
      name: "herald_provider_breaker_open",
      help: "1 while a provider's circuit breaker is open or half-open in this process (its sends go to the next provider), 0 when closed",
      labelNames: ["channel", "provider"],
      registers: [registry],
    });
    this.deliveryLatency = new Histogram({
      name: "herald_delivery_latency_seconds",
      help: "Time from enqueue to acceptance by the provider, retries included",
      labelNames: kindChannel,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });

    this.webhooksTotal = new Counter({
      name: "herald_webhooks_total",
      help: "Webhook deliveries by endpoint id and outcome: delivered, failed (an attempt; retried) or dead_lettered",
      labelNames: ["endpoint", "outcome"],
      registers: [registry],
    });

    const queues = this.queues;
    const log = () => this.logger;
    this.redisUp = new Gauge({ name: "herald_redis_up", help: "1 if the last scrape could read the queue depths from Redis", registers: [registry] });
    const redisUp = this.redisUp;
    this.queueJobs = new Gauge({
      name: "herald_queue_jobs",
      help: "Jobs per queue and state, read from Redis at scrape time (dead letters wait in the dead-letter queue's waiting state)",
      labelNames: ["queue", "state"],
      registers: [registry],
      async collect() {
        if (queues.size === 0) return;
        try {
          const perQueue = await withDeadline(
            Promise.all([...queues].map(async (q) => ({ name: q.name, counts: await q.getJobCounts(...QUEUE_STATES) }))),
            scrapeTimeoutMs,
            "metrics scrape",
          );
          this.reset();
          // The shards of a queue (HERALD_SHARDS) share its name: their counts add up to the queue's.
          const total = new Map<string, number>();
          for (const { name, counts } of perQueue)
            for (const state of QUEUE_STATES) total.set(`${name}\n${state}`, (total.get(`${name}\n${state}`) ?? 0) + (counts[state] ?? 0));
          for (const [key, value] of total) {
            const [name, state] = key.split("\n");
            this.set({ queue: name, state }, value);
          }
          redisUp.set(1);
        } catch (error) {
          this.reset();
          redisUp.set(0);
          log()?.warn({ err: error }, "metrics: could not read queue depths from Redis");
        }
      },
    });

    const breakers = () => this.breakers;
    this.smsCountryBreakerOpen = new Gauge({
      name: "herald_sms_country_breaker_open",
      help: "Seconds each open SMS country breaker stays open, read from Redis at scrape time (whichever producer opened it); absent when none is open",
      labelNames: ["country"],
      registers: [registry],
      async collect() {
        const source = breakers();
        if (!source) return;
        try {
          const open = await withDeadline(source(), scrapeTimeoutMs, "metrics scrape");
          this.reset();
          for (const { country, retryAfter } of open) this.set({ country }, retryAfter);
        } catch (error) {
          log()?.warn({ err: error }, "metrics: could not read the SMS country breakers from Redis");
        }
      },
    });

    // Every kind × channel starts at zero, so rate() and alerts see a series before the first event.
    for (const def of Object.values(KINDS)) {
      for (const channel of def.channels) {
        const labels = { kind: def.kind, channel };
        for (const counter of [this.enqueuedTotal, this.deduplicatedTotal, this.deliveredTotal, this.failedTotal, this.retriesTotal]) counter.inc(labels, 0);
        this.unknownTenantTotal.inc({ kind: def.kind }, 0);
        for (const failureClass of FAILURE_CLASSES) this.deadLetteredTotal.inc({ ...labels, failure_class: failureClass }, 0);
      }
    }

    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
    this.watchQueues(opts.queues ?? []);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `/metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  watchQueues(queues: Queue[]): void {
    for (const queue of queues) this.queues.add(queue);
  }

  /** Where the open SMS country breakers are read at scrape time (Herald's `limits.openBreakers`). */
  watchBreakers(source: (() => Promise<{ country: string; retryAfter: number }[]>) | undefined): void {
    this.breakers = source;
  }

  unwatchQueues(queues: Queue[]): void {
    for (const queue of queues) this.queues.delete(queue);
  }

  enqueued(result: EnqueuedLike): void {
    const labels = { kind: result.kind, channel: result.channel };
    (result.deduplicated ? this.deduplicatedTotal : this.enqueuedTotal).inc(labels);
  }

  /** An enqueue refused by a limit (RateLimitedError's limit, opened and country). */
  rateLimited(kind: string, refusal: { limit: string; opened?: boolean; country?: string }): void {
    this.rateLimitedTotal.inc({ kind, limit: refusal.limit });
    if (refusal.opened && refusal.country) this.smsCountryBreakerOpenedTotal.inc({ country: refusal.country });
  }

  delivered(job: JobLike, result: DeliveredLike | undefined): void {
    const labels = labelsOf(job);
    this.deliveredTotal.inc(labels);
    if (typeof result?.provider === "string") this.providerDeliveriesTotal.inc({ channel: labels.channel, provider: result.provider });
    const accepted = result?.acceptedAt ? Date.parse(result.acceptedAt) : NaN;
    if (typeof result?.enqueuedAt === "number" && Number.isFinite(accepted)) {
      this.deliveryLatency.observe(labels, Math.max(0, accepted - result.enqueuedAt) / 1000);
    }
  }

  retrying(job: JobLike, error: unknown): void {
    const labels = labelsOf(job);
    this.failedTotal.inc(labels);
    this.retriesTotal.inc(labels);
    this.providerError(labels.channel, (error as { code?: unknown } | undefined)?.code);
  }

  /**
   * A job reached the dead-letter queue. Without `code` the dead letter itself is read (when
   * `deadLetters` was given) to count its provider error code.
   */
  deadLettered(job: JobLike, failureClass: string, code?: string): void {
    const labels = labelsOf(job);
    this.failedTotal.inc(labels);
    this.deadLetteredTotal.inc({ ...labels, failure_class: failureClass });
    if (code !== undefined) {
      this.providerError(labels.channel, code);
    } else if (this.deadLetters && job.id) {
      this.track(
        this.deadLetters
          .get(DeadLetters.idFor(job.queueName, job.id))
          .then((letter) => this.providerError(labels.channel, letter?.code))
          .catch((error) => this.logger?.warn({ err: error }, "metrics: could not read a dead letter's code")),
      );
    }
  }

  /**
   * Listens to RunningWorkers.events: `delivered` (job, result), `retrying` (job, error), `unknown-tenant` (kind),
   * `dead-lettered` (job, failureClass[, code]). Returns a function that stops listening.
   */
  attach(events: EventEmitter): () => void {
    const onDelivered = (job: JobLike, result: DeliveredLike) => this.delivered(job, result);
    const onRetrying = (job: JobLike, error: unknown) => this.retrying(job, error);
    const onDeadLettered = (job: JobLike, failureClass: string, code?: string) =>
      this.deadLettered(job, failureClass, typeof code === "string" ? code : undefined);
    const onUnknownTenant = (kind: string) => this.unknownTenantTotal.inc({ kind });
    const onWebhook = (endpoint: string, outcome: string) => this.webhooksTotal.inc({ endpoint, outcome });
    events.on("webhook", onWebhook);
    const onBreaker = (channel: string, provider: string, state: string) => this.providerBreakerOpen.set({ channel, provider }, state === "closed" ? 0 : 1);
    const onFailover = (channel: string, from: string, to: string) => this.providerFailoversTotal.inc({ channel, from, to });
    events.on("provider-breaker", onBreaker);
    events.on("failover", onFailover);
    events.on("delivered", onDelivered);
    events.on("retrying", onRetrying);
    events.on("dead-lettered", onDeadLettered);
    events.on("unknown-tenant", onUnknownTenant);
    return () => {
      events.off("delivered", onDelivered);
      events.off("retrying", onRetrying);
      events.off("dead-lettered", onDeadLettered);
      events.off("unknown-tenant", onUnknownTenant);
      events.off("webhook", onWebhook);
      events.off("provider-breaker", onBreaker);
      events.off("failover", onFailover);
    };
  }

  /** Resolves once asynchronous look-ups (dead-letter codes) have been counted. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private providerError(channel: string, code: unknown): void {
    // "render" is a template failure and "suppressed" Herald's own refusal, not something a provider said.
    if (typeof code !== "string" || code === "" || code === "render" || code === "suppressed") return;
    this.providerErrorsTotal.inc({ channel, code: code.slice(0, 64) });
  }

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }
}

export function createMetrics(opts: MetricsOptions = {}): HeraldMetrics {
  return new HeraldMetrics(opts);
}

function labelsOf(job: JobLike): { kind: string; channel: string } {
  return { kind: job.name, channel: channelOfQueue(job.queueName) ?? job.queueName };
}
