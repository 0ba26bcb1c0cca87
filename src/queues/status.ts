import type { Job, Queue } from "bullmq";
import type { RedisClient } from "./connection.js";
import type { ChannelName } from "../contracts/index.js";
import { readFailure, type FailureClass } from "../errors/index.js";
import { scrub } from "../redact.js";
import { DeadLetters, type DeadLetterRecord } from "./dead-letter.js";
import type { HandsetReport, ProviderReports } from "./provider-reports.js";
import { channelOfQueue, DELIVERY_QUEUES } from "./names.js";

/** Where a notification is. Carries no recipient, code, link or message text. */
export type NotificationStatus =
  | (StatusBase & { status: "queued" })
  | (StatusBase & { status: "active" })
  | (StatusBase & {
      status: "retrying";
      /** When the next attempt is due (ISO time); absent if it is already waiting for a worker. */
      nextAttemptAt?: string;
      /** The last attempt's error, scrubbed of personal data. */
      lastError?: string;
      /** The provider code of the last failure, e.g. `smtp-451`. */
      lastErrorCode?: string;
    })
  | (StatusBase & {
      status: "delivered";
      provider: string;
      messageId: string;
      /** When the provider accepted it (the same as acceptedAt; kept for existing clients). */
      deliveredAt: string;
      acceptedAt: string;
      /** What the provider reported afterwards about the handset (Twilio status callbacks), if anything yet. */
      handset?: HandsetReport;
    })
  /** Failed for good and not yet in the dead-letter queue: the dead-letter mover takes it within a minute. */
  | (StatusBase & { status: "failed"; reason: string; failedAt?: string })
  | (StatusBase & {
      status: "dead-lettered";
      failureClass: FailureClass;
      reason: string;
      code?: string;
      failedAt: string;
      /** Id in the dead-letter queue, for `/v1/dead-letters/{id}` and replay. */
      deadLetterId: string;
    });

export interface StatusBase {
  /** The job this status is of: after a replay, the new job's id. */
  id: string;
  /** The id that was asked about, when it was replayed: its notification now travels as job `id`. */
  originalId?: string;
  kind: string;
  channel: ChannelName;
  /** Delivery attempts made (failed ones, plus the successful one when delivered). */
  attempts: number;
  /** When the job was enqueued (ISO time), if known. */
  enqueuedAt?: string;
}

export type NotificationState = NotificationStatus["status"];

export interface StatusSources {
  /** The email and sms queues (any order), of every shard (HERALD_SHARDS). */
  queues: Queue[];
  deadLetters: DeadLetters;
  /** Used to read when a delayed retry is due (the delayed set's score). */
  connection: RedisClient;
  /** Provider reports (Twilio status callbacks) to show with a delivered notification; none when absent. */
  reports?: ProviderReports;
}

export { channelOfQueue };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether an id can be a Herald job id: a UUID (what the producer and replay assign) or BullMQ's
 * numeric default. Anything else is refused before it reaches Redis, where names such as `wait` or
 * `meta` are the queue's own keys.
 */
export function isJobId(id: string): boolean {
  return UUID.test(id) || /^\d{1,20}$/.test(id);
}

/** Whether an id can be a dead letter's: `${queue}-${originalJobId}` for a delivery queue. */
export function isDeadLetterId(id: string): boolean {
  return DELIVERY_QUEUES.some((queue) => id.startsWith(`${queue}-`) && isJobId(id.slice(queue.length + 1)));
}

/** A replayed job may fail and be replayed again; the trail is followed this far. */
const MAX_REPLAYS_FOLLOWED = 20;

/**
 * Looks a notification up by the id the enqueue answered: first in the delivery queues, then in the
 * dead-letter queue (whose ids are `${queue}-${originalJobId}`), then along the trail a replay leaves
 * (a replay is a new job with a new id): the answer is then the new job's status, with `originalId`.
 * Undefined when it is nowhere, e.g. unknown or removed after the completed-job retention.
 */
export async function lookupStatus(id: string, sources: StatusSources): Promise<NotificationStatus | undefined> {
  let current = id;
  for (let hop = 0; hop <= MAX_REPLAYS_FOLLOWED; hop++) {
    const found = await lookupOne(current, sources);
    if (found === undefined) return undefined;
    if (typeof found === "object") return current === id ? found : { ...found, originalId: id };
    current = found;
  }
  return undefined;
}

/** The job's status, or the id of the job it was replayed as, or undefined. */
async function lookupOne(id: string, sources: StatusSources): Promise<NotificationStatus | string | undefined> {
  if (!isJobId(id)) return undefined;
  const found = await Promise.all(sources.queues.map(async (queue) => ({ queue, job: await queue.getJob(id) })));
  for (const { queue, job } of found) {
    if (!job) continue;
    const state = await job.getState();
    if (state === "unknown") continue; // removed between the two reads
    if (state === "failed") {
      const letter = await sources.deadLetters.get(DeadLetters.idFor(queue.name, id));
      if (letter) return deadLetterStatus(letter);
    }
    const status = statusOfJob(job, state, await nextAttemptAt(job, state, queue, sources.connection));
    if (status.status === "delivered" && sources.reports && status.messageId) {
      const handset = await sources.reports.get(status.provider, status.messageId);
      if (handset) return { ...status, handset };
    }
    return status;
  }
  // Every shard of a channel has the same queue name, and dead letters are one queue for all shards.
  const names = [...new Set(sources.queues.map((queue) => queue.name))];
  for (const name of names) {
    const letter = await sources.deadLetters.get(DeadLetters.idFor(name, id));
    if (letter) return deadLetterStatus(letter);
  }
  for (const name of names) {
    const next = await sources.deadLetters.replayedAs(DeadLetters.idFor(name, id));
    if (next) return next;
  }
  return undefined;
}

async function nextAttemptAt(job: Job, state: string, queue: Queue, connection: RedisClient): Promise<number | undefined> {
  if (state !== "delayed") return undefined;
  // BullMQ scores the delayed set by `due time * 0x1000 + counter`.
  const score = await connection.zscore(queue.toKey("delayed"), job.id!);
  return score === null ? undefined : Math.floor(Number(score) / 0x1000);
}

interface EnvelopeLike {
  kind?: unknown;
  enqueuedAt?: unknown;
}

interface ResultLike {
  provider?: unknown;
  messageId?: unknown;
  acceptedAt?: unknown;
}

/** A BullMQ job of a delivery queue, in the given state, as a status. */
export function statusOfJob(job: Job, state: string, dueAt?: number): NotificationStatus {
  const data = (job.data ?? {}) as EnvelopeLike;
  const base: StatusBase = {
    id: job.id!,
    kind: typeof data.kind === "string" ? data.kind : job.name,
    channel: channelOfQueue(job.queueName) ?? (job.queueName as ChannelName),
    attempts: job.attemptsMade,
    ...(typeof data.enqueuedAt === "number" ? { enqueuedAt: new Date(data.enqueuedAt).toISOString() } : {}),
  };
  switch (state) {
    case "active":
      return { ...base, status: "active" };
    case "completed": {
      const result = (job.returnvalue ?? {}) as ResultLike;
      const acceptedAt = typeof result.acceptedAt === "string" ? result.acceptedAt : new Date(job.finishedOn ?? Date.now()).toISOString();
      return {
        ...base,
        status: "delivered",
        provider: String(result.provider ?? "unknown"),
        messageId: String(result.messageId ?? ""),
        deliveredAt: acceptedAt,
        acceptedAt,
      };
    }
    case "failed":
      return {
        ...base,
        status: "failed",
        reason: scrub(readFailure(job.failedReason, false).reason),
        ...(job.finishedOn ? { failedAt: new Date(job.finishedOn).toISOString() } : {}),
      };
    default:
      // waiting, prioritized, delayed, waiting-children, paused: queued, or retrying once an attempt failed.
      if (job.attemptsMade > 0) {
        return {
          ...base,
          status: "retrying",
          ...(dueAt !== undefined ? { nextAttemptAt: new Date(dueAt).toISOString() } : {}),
          // The class tag is for the dead-letter mover; a person reads the reason, and its code apart.
          ...(job.failedReason ? lastErrorOf(job.failedReason) : {}),
        };
      }
      return { ...base, status: "queued" };
  }
}

export function deadLetterStatus(letter: DeadLetterRecord): NotificationStatus {
  const data = (letter.data ?? {}) as EnvelopeLike;
  return {
    id: letter.originalJobId,
    kind: letter.kind,
    channel: channelOfQueue(letter.queue) ?? (letter.queue as ChannelName),
    attempts: letter.attempts,
    ...(typeof data.enqueuedAt === "number" ? { enqueuedAt: new Date(data.enqueuedAt).toISOString() } : {}),
    status: "dead-lettered",
    failureClass: letter.failureClass,
    reason: scrub(letter.reason),
    ...(letter.code ? { code: letter.code } : {}),
    failedAt: letter.failedAt,
    deadLetterId: letter.id,
  };
}

function lastErrorOf(failedReason: string): { lastError: string; lastErrorCode?: string } {
  const { reason, code } = readFailure(failedReason, false);
  return { lastError: scrub(reason), ...(code ? { lastErrorCode: code } : {}) };
}
