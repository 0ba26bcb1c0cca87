import { DelayedError, type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import type { Logger } from "../logger.js";
import { reportErrors, type RedisClient } from "../queues/connection.js";
import { WEBHOOK_DEAD_LETTER_QUEUE, WEBHOOK_QUEUE } from "../queues/names.js";
import type { WebhookJobData } from "../queues/notification-events.js";
import type { WebhookDeadLetterRecord, WebhookEndpoint } from "../queues/webhook-outbox.js";
import { scrub } from "../redact.js";
import { signWebhook } from "../webhooks/standard-webhooks.js";
import { workerOptions } from "./worker-options.js";

export interface BreakerPolicy {
  /** Consecutive failures of one endpoint that open its breaker. */
  failures: number;
  /** How long it stays open: its deliveries wait (without spending attempts) rather than tie up the worker. */
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = { failures: 5, openMs: 30_000 };

export interface WebhookDeliveryOptions {
  connection: RedisClient;
  prefix: string;
  endpoints: readonly WebhookEndpoint[];
  concurrency: number;
  /** One POST may take this long, then it counts as failed. */
  timeoutMs: number;
  lockMs: number;
  stalledIntervalMs: number;
  breaker?: BreakerPolicy;
  logger: Logger;
  /** Told of each outcome, for metrics: `delivered`, `failed` (an attempt that will be retried) or `dead_lettered`. */
  onOutcome?: (endpointId: string, outcome: "delivered" | "failed" | "dead_lettered") => void;
}

/** A webhook message that failed for good, as the worker moves it. */
type WebhookDeadLetter = Omit<WebhookDeadLetterRecord, "id">;

export interface WebhookDelivery {
  worker: Worker;
  deadLetters: Queue;
  /** Moves failed-for-good messages that a crash left in the failed set; returns how many. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

/** Per endpoint, in this process: closed, open for a while after N failures in a row, then one try decides. */
class Breaker {
  private failures = 0;
  private openUntil = 0;
  constructor(private readonly policy: BreakerPolicy) {}
  remainingMs(now: number): number {
    return Math.max(0, this.openUntil - now);
  }
  failed(now: number): void {
    this.failures++;
    if (this.failures >= this.policy.failures) this.openUntil = now + this.policy.openMs;
  }
  succeeded(): void {
    this.failures = 0;
    this.openUntil = 0;
  }
}

/**
 * The webhook worker: signs each message (Standard Webhooks) and posts it to its endpoint, on its own
 * queue and connection settings, apart from the email and SMS workers: a slow or dead endpoint spends
 * this worker's slots and its own retries, never a mail's.
 */
export function startWebhookDelivery(opts: WebhookDeliveryOptions): WebhookDelivery {
  const logger = opts.logger.child({ queue: WEBHOOK_QUEUE });
  const byId = new Map(opts.endpoints.map((e) => [e.id, e]));
  const breakers = new Map(opts.endpoints.map((e) => [e.id, new Breaker(opts.breaker ?? DEFAULT_BREAKER)]));
  const deadLetters = new Queue(WEBHOOK_DEAD_LETTER_QUEUE, { connection: opts.connection, prefix: opts.prefix });

  const process = async (job: Job<WebhookJobData>, token?: string) => {
    const { endpointId, messageId, event } = job.data;
    const endpoint = byId.get(endpointId);
    const breaker = breakers.get(endpointId);
    if (!endpoint || !breaker) throw new UnrecoverableError(`endpoint ${endpointId} is no longer in HERALD_WEBHOOKS`);
    const wait = breaker.remainingMs(Date.now());
    if (wait > 0) {
      // Spread over the open window so the endpoint is not hit by every waiting message at once when it closes.
      await job.moveToDelayed(Date.now() + wait + Math.floor(Math.random() * (opts.breaker ?? DEFAULT_BREAKER).openMs), token);
      throw new DelayedError();
    }
    const body = JSON.stringify(event);
    const headers = signWebhook(endpoint.secrets, messageId, body);
    let status: number;
    try {
      const response = await fetch(endpoint.url, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "user-agent": "Herald-Webhooks" },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (error) {
      breaker.failed(Date.now());
      const e = error as Error;
      throw new Error(
        e.name === "TimeoutError" ? `no answer within ${opts.timeoutMs} ms` : scrub(`${e.message}${e.cause ? `: ${(e.cause as Error).message}` : ""}`),
      );
    }
    if (status < 200 || status >= 300) {
      breaker.failed(Date.now());
      throw new Error(`answered HTTP ${status}`);
    }
    breaker.succeeded();
    return { status };
  };

  const worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, process, workerOptions(opts));

  const pending = new Set<Promise<unknown>>();
  const move = async (job: Job<WebhookJobData>, reason: string): Promise<boolean> => {
    const endpoint = byId.get(job.data.endpointId);
    const letter: WebhookDeadLetter = {
      ...job.data,
      url: endpoint?.url ?? "",
      attempts: job.attemptsMade,
      reason: scrub(reason),
      failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
    };
    try {
      await deadLetters.add(job.name, letter, { jobId: job.id, removeOnComplete: false, removeOnFail: false });
      await job.remove();
      logger.error({ jobId: job.id, endpoint: job.data.endpointId, type: job.name, attempts: job.attemptsMade }, "webhook dead-lettered");
      return true;
    } catch (error) {
      logger.error({ err: error, jobId: job.id }, "could not move a webhook to its dead letters; the next sweep tries again");
      return false;
    }
  };
  worker.on("completed", (job) => {
    opts.onOutcome?.(job.data.endpointId, "delivered");
    logger.debug({ jobId: job.id, endpoint: job.data.endpointId, type: job.name }, "webhook delivered");
  });
  worker.on("failed", (job, error) => {
    if (!job) return;
    opts.onOutcome?.(job.data.endpointId, job.finishedOn ? "dead_lettered" : "failed");
    if (!job.finishedOn) {
      logger.warn({ jobId: job.id, endpoint: job.data.endpointId, attempt: job.attemptsMade, error: scrub(error.message) }, "webhook failed; will retry");
      return;
    }
    const moving = move(job, error.message);
    pending.add(moving);
    void moving.finally(() => pending.delete(moving));
  });
  reportErrors(worker, (error, suppressed) => logger.error({ error: scrub(error.message), suppressed }, "webhook worker error"));
  reportErrors(deadLetters, (error, suppressed) => logger.error({ error: scrub(error.message), suppressed }, "webhook dead-letter queue error"));

  const queue = new Queue(WEBHOOK_QUEUE, { connection: opts.connection, prefix: opts.prefix });
  reportErrors(queue, () => {});
  const sweep = async () => {
    let moved = 0;
    for (const job of (await queue.getFailed(0, 999)).filter(Boolean) as Job<WebhookJobData>[]) if (await move(job, job.failedReason)) moved++;
    return moved;
  };
  void worker.run().catch((error) => logger.error({ err: error }, "webhook worker stopped"));
  // At start and every minute, like the delivery queues' mover: a move cut short (Redis blip, crash) is done later.
  let sweeping: Promise<unknown> | undefined;
  const sweepNow = () => {
    sweeping ??= sweep()
      .catch((error: Error) => logger.error({ error: scrub(error.message) }, "webhook dead-letter sweep failed; the next one tries again"))
      .finally(() => (sweeping = undefined));
  };
  sweepNow();
  const timer = setInterval(sweepNow, 60_000);
  timer.unref();

  return {
    worker,
    deadLetters,
    sweep,
    async close() {
      clearInterval(timer);
      await worker.close();
      await sweeping;
      while (pending.size > 0) await Promise.allSettled([...pending]);
      await queue.close();
      await deadLetters.close();
    },
  };
}
