import { createHash } from "node:crypto";
import { Queue, type Job } from "bullmq";
import type { RedisClient } from "./connection.js";
import type { FailureClass } from "../errors/index.js";
import { scrub } from "../redact.js";
import { DEFAULT_RETRY, deliveryJobOptions, type RetryPolicy } from "./job-options.js";
import { DEAD_LETTER_QUEUE } from "./names.js";
import { bullmqTelemetry, tracingActive } from "../telemetry/tracing.js";

/** A job that failed for good, with everything needed to understand it and send it again. */
export interface DeadLetter {
  kind: string;
  /** The queue it came from and goes back to on replay. */
  queue: string;
  /** The prefix of the shard it failed on (HERALD_SHARDS), for the record; replays go to the unsharded queue. */
  queuePrefix?: string;
  originalJobId: string;
  /** The job data exactly as it was queued (secrets still sealed). */
  data: unknown;
  attempts: number;
  failureClass: FailureClass;
  /** The last error, scrubbed of personal data and secrets. */
  reason: string;
  code?: string;
  failedAt: string;
}

export interface DeadLetterRecord extends DeadLetter {
  id: string;
}

export interface DeadLetterFilter {
  kind?: string;
  failureClass?: FailureClass;
  /** Only those that failed at or after this time. */
  since?: Date;
  until?: Date;
}

export type Progress = (done: number, total: number) => void;

/** False for the empty filter, which matches every dead letter (bulk deletes ask for an explicit "all" then). */
export function hasFilter(filter: DeadLetterFilter): boolean {
  return Boolean(filter.kind || filter.failureClass || filter.since || filter.until);
}

/** What the API and the CLI show of a dead letter: never its data (sealed secrets, recipient). */
export interface PublicDeadLetter {
  id: string;
  kind: string;
  queue: string;
  originalJobId: string;
  attempts: number;
  failureClass: string;
  reason: string;
  code?: string;
  failedAt: string;
}

export function publicDeadLetter(record: DeadLetterRecord): PublicDeadLetter {
  return {
    id: record.id,
    kind: record.kind,
    queue: record.queue,
    originalJobId: record.originalJobId,
    attempts: record.attempts,
    failureClass: record.failureClass,
    reason: scrub(record.reason ?? ""),
    ...(record.code ? { code: scrub(record.code) } : {}),
    failedAt: record.failedAt,
  };
}

const PAGE = 500;

/**
 * How long a replayed dead letter's original id keeps leading to the new job: 30 days, longer than the
 * default retries (minutes to hours) and completed-job retention (a day). One short key per replay.
 */
export const REPLAY_TRAIL_SECONDS = 30 * 86_400;

/** The dead-letter queue: jobs wait here, untouched by any worker, until someone replays or purges them. */
export class DeadLetters {
  readonly queue: Queue;
  private readonly targets = new Map<string, Queue>();

  constructor(
    readonly connection: RedisClient,
    readonly prefix: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** Told after each replay (delivery events); its failure is its own, never the replay's. */
    private readonly onReplayed?: (letter: DeadLetterRecord, newId: string) => Promise<void>,
  ) {
    this.queue = new Queue(DEAD_LETTER_QUEUE, { connection, prefix });
  }

  /** Idempotent: the id derives from the original job, so a second copy of the same failure is ignored. */
  static idFor(queue: string, originalJobId: string): string {
    return `${queue}-${originalJobId}`;
  }

  async add(letter: DeadLetter): Promise<string> {
    const job = await this.queue.add(letter.kind, letter, {
      jobId: DeadLetters.idFor(letter.queue, letter.originalJobId),
      removeOnComplete: false,
      removeOnFail: false,
    });
    return job.id!;
  }

  async get(id: string): Promise<DeadLetterRecord | undefined> {
    const job = await this.queue.getJob(id);
    return job ? toRecord(job) : undefined;
  }

  async count(): Promise<number> {
    return this.queue.getWaitingCount();
  }

  /** Newest first. Unfiltered, one page is read straight from Redis; a filter reads them all (fine for thousands). */
  async list(filter: DeadLetterFilter = {}, page: { offset?: number; limit?: number } = {}): Promise<{ total: number; items: DeadLetterRecord[] }> {
    const offset = page.offset ?? 0;
    const limit = page.limit ?? 50;
    if (!hasFilter(filter)) {
      // Newest first is the wait list's own order (asc = false), so a page is one range read.
      const [total, jobs] = await Promise.all([this.queue.getWaitingCount(), this.queue.getJobs(["waiting"], offset, offset + limit - 1, false)]);
      return { total, items: jobs.filter(Boolean).map(toRecord) };
    }
    const all = await this.matching(filter);
    return { total: all.length, items: all.slice(offset, offset + limit) };
  }

  /**
   * Puts the job back on its queue as a new job with fresh attempts, then removes the dead letter; returns
   * the new job's id. That id derives from the dead letter, so two replays of one letter (a retried request,
   * CLI and API at once, a crash between the two steps) add one job, not two. It is never the original id:
   * if the replayed job fails again, its dead letter must not collide with the one being replayed.
   */
  async replay(id: string): Promise<string | undefined> {
    const job = await this.queue.getJob(id);
    if (!job) return undefined;
    const letter = toRecord(job);
    // Back to the unsharded queue, not the shard it failed on: workers always work that one, whatever
    // HERALD_SHARDS is now, while the old shard may no longer be worked after HERALD_SHARDS changed.
    const added = await this.target(letter.queue, this.prefix).add(letter.kind, letter.data, {
      ...deliveryJobOptions(this.retry),
      jobId: replayIdOf(letter),
    });
    // The producer only knows the original id: it must keep leading to the notification.
    await this.connection.set(this.replayKey(id), added.id!, "EX", REPLAY_TRAIL_SECONDS);
    // Added first, removed second: a crash in between leaves the letter to replay again (as the same job), never a lost job.
    await job.remove();
    await this.onReplayed?.(letter, added.id!).catch(() => {});
    return added.id!;
  }

  /** The id of the job a dead letter was replayed as, while the trail is kept (REPLAY_TRAIL_SECONDS). */
  async replayedAs(id: string): Promise<string | undefined> {
    return (await this.connection.get(this.replayKey(id))) ?? undefined;
  }

  /** Beside the queues' keys, in the same hash slot (the prefix is a hash tag). */
  private replayKey(id: string): string {
    return `${this.prefix}:replayed:${id}`;
  }

  async replayAll(filter: DeadLetterFilter = {}, onProgress?: Progress): Promise<number> {
    return this.forEach(filter, (record) => this.replay(record.id), onProgress);
  }

  async remove(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job) return false;
    await job.remove();
    return true;
  }

  async purge(filter: DeadLetterFilter = {}, onProgress?: Progress): Promise<number> {
    return this.forEach(filter, (record) => this.remove(record.id), onProgress);
  }

  async close(): Promise<void> {
    await Promise.all([...this.targets.values()].map((q) => q.close()));
    await this.queue.close();
  }

  /** The delivery queue a dead letter goes back to, opened once (bulk replays reuse it). */
  private target(name: string, prefix: string): Queue {
    let queue = this.targets.get(`${prefix}:${name}`);
    if (!queue) {
      // A replay made inside a traced request (the API) starts the replayed job's trace there.
      const telemetry = bullmqTelemetry(tracingActive());
      queue = new Queue(name, { connection: this.connection, prefix, ...(telemetry ? { telemetry } : {}) });
      queue.on("error", () => {}); // the dead-letter queue's own listener reports connection trouble
      this.targets.set(`${prefix}:${name}`, queue);
    }
    return queue;
  }

  private async forEach(filter: DeadLetterFilter, action: (r: DeadLetterRecord) => Promise<unknown>, onProgress?: Progress): Promise<number> {
    const records = await this.matching(filter);
    let done = 0;
    onProgress?.(0, records.length);
    for (const record of records) {
      if (await action(record)) done++;
      onProgress?.(done, records.length);
    }
    return done;
  }

  private async matching(filter: DeadLetterFilter): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    for (let start = 0; ; start += PAGE) {
      const jobs = await this.queue.getWaiting(start, start + PAGE - 1);
      for (const job of jobs) {
        if (!job) continue;
        const record = toRecord(job);
        if (filter.kind && record.kind !== filter.kind) continue;
        if (filter.failureClass && record.failureClass !== filter.failureClass) continue;
        const at = Date.parse(record.failedAt);
        if (filter.since && at < filter.since.getTime()) continue;
        if (filter.until && at > filter.until.getTime()) continue;
        out.push(record);
      }
      if (jobs.length < PAGE) break;
    }
    return out.sort((a, b) => b.failedAt.localeCompare(a.failedAt));
  }
}

/** A UUID-shaped id from the dead letter and the failure it records. */
function replayIdOf(letter: DeadLetterRecord): string {
  const hex = createHash("sha256").update(`${letter.id}|${letter.failedAt}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function toRecord(job: Job): DeadLetterRecord {
  return { id: job.id!, ...(job.data as DeadLetter) };
}
