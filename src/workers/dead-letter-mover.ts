import type { Job, Queue, Worker } from "bullmq";
import { readFailure, type FailureClass } from "../errors/index.js";
import type { DeadLetters } from "../queues/dead-letter.js";
import { prefixOfJob } from "../queues/names.js";
import type { Logger } from "../logger.js";
import { scrub } from "../redact.js";

/**
 * Moves jobs that failed for good into the dead-letter queue, then removes them from `failed`.
 * Listens to its workers' `failed` events, and sweeps each queue's failed set at start and every
 * minute, so a failure whose move was interrupted (crash, Redis blip, stalled job) is still moved.
 */
export class DeadLetterMover {
  private readonly pending = new Set<Promise<unknown>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly deadLetters: DeadLetters,
    private readonly logger: Logger,
    private readonly onMoved?: (job: Job, failureClass: FailureClass, code?: string) => void,
  ) {}

  attach(worker: Worker): void {
    worker.on("failed", (job, error) => {
      if (!job || !isFinal(job)) return;
      this.track(this.move(job, error));
    });
  }

  /** Starts the periodic sweep of these queues (and runs one now); a sweep still running is not started again. */
  watch(queues: Queue[], everyMs = 60_000): void {
    const sweeping = new Set<Queue>();
    const sweepAll = () =>
      queues.forEach((queue) => {
        if (sweeping.has(queue)) return;
        sweeping.add(queue);
        this.track(this.sweep(queue).finally(() => sweeping.delete(queue)));
      });
    sweepAll();
    this.timer = setInterval(sweepAll, everyMs);
    this.timer.unref();
  }

  async sweep(queue: Queue): Promise<number> {
    let moved = 0;
    for (;;) {
      const jobs = (await queue.getFailed(0, 99)).filter(Boolean);
      let movedNow = 0;
      for (const job of jobs) if (await this.move(job)) movedNow++;
      moved += movedNow;
      // A pass that moved nothing (e.g. Redis refuses writes) ends the sweep; the next one tries again.
      if (jobs.length < 100 || movedNow === 0) return moved;
    }
  }

  /** Waits for moves under way; call before closing connections. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async move(job: Job, error?: Error): Promise<boolean> {
    // The same reading whether the error is in hand or only the stored reason is left (a sweep after a restart).
    const { failureClass, code, reason } = readFailure(error?.message ?? job.failedReason, job.attemptsMade >= (job.opts.attempts ?? 1));
    try {
      await this.deadLetters.add({
        kind: job.name,
        queue: job.queueName,
        ...(prefixOfJob(job) !== this.deadLetters.prefix ? { queuePrefix: prefixOfJob(job) } : {}),
        originalJobId: job.id!,
        data: job.data,
        attempts: job.attemptsMade,
        failureClass,
        reason: scrub(reason),
        code,
        failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
      });
      await this.removeKeepingIdempotency(job);
      this.logger.error({ jobId: job.id, queue: job.queueName, kind: job.name, failureClass }, "job dead-lettered");
      this.onMoved?.(job, failureClass, code);
      return true;
    } catch (moveError) {
      // The job stays in `failed`; the next sweep tries again.
      this.logger.error({ err: moveError, jobId: job.id }, "could not move a failed job to the dead-letter queue; will retry");
      return false;
    }
  }

  /**
   * Removing a job also ends its idempotency window (BullMQ deletes the deduplication key with it), and a
   * producer retrying with the same key would then send a second message. The key is put back with the
   * time it had left, still naming this job, whose status is now "dead-lettered".
   */
  private async removeKeepingIdempotency(job: Job): Promise<void> {
    const dedupId = job.opts.deduplication?.id;
    if (!dedupId) return job.remove();
    const client = this.deadLetters.connection;
    const key = `${job.queueQualifiedName}:de:${dedupId}`;
    const [holder, ttl] = await Promise.all([client.get(key), client.pttl(key)]);
    await job.remove();
    if (holder === job.id && ttl > 0) await client.set(key, job.id!, "PX", ttl, "NX");
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.catch((error) => this.logger.error({ err: error }, "dead-letter sweep failed; the next one tries again"));
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }
}

function isFinal(job: Job): boolean {
  return Boolean(job.finishedOn) || job.attemptsMade >= (job.opts.attempts ?? 1);
}
