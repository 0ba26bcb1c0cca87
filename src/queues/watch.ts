import type { RedisClient } from "./connection.js";
import { openDeliveryQueues } from "./delivery-queues.js";
import { EventEmitter, on } from "node:events";
import { type Queue, QueueEvents } from "bullmq";
import { Cluster } from "ioredis";
import type { DeadLetters } from "./dead-letter.js";
import { DEAD_LETTER_QUEUE, DELIVERY_QUEUES, channelOfQueue } from "./names.js";
import { envelopeFacts, notificationEvent, type NotificationEvent } from "./notification-events.js";
import { lookupStatus, type NotificationStatus } from "./status.js";
import type { ChannelName } from "../contracts/index.js";

/** waitFor gave up: the notification had not been delivered or dead-lettered in time. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    readonly id: string,
    readonly ms: number,
    /** Where it was when the time ran out (undefined: not found). */
    readonly lastStatus?: NotificationStatus,
  ) {
    super(`notification ${id} was neither delivered nor dead-lettered within ${ms} ms (last status: ${lastStatus?.status ?? "not found"})`);
  }
}

export interface WatchSources {
  connection: RedisClient;
  /** The dead-letter queue's prefix (HERALD_PREFIX). */
  prefix: string;
  /** Every prefix with delivery queues (one per shard, see deliveryPrefixes). */
  deliveryPrefixes: string[];
  deadLetters: DeadLetters;
}

interface DeliveredValue {
  provider?: string;
  acceptedAt?: string;
  kind?: string;
  channel?: ChannelName;
  enqueuedAt?: number;
}

/**
 * What the producer SDK sees of deliveries, over BullMQ's QueueEvents (Redis streams; no HTTP): the
 * delivery queues' `completed` and the dead-letter queue's `added`; BullMQ reads each stream over a
 * blocking connection of its own, opened on first use.
 */
export class NotificationWatch {
  private readonly emitter = new EventEmitter();
  private readonly closing = new AbortController();
  private readonly blocking: RedisClient;
  private readonly listeners: QueueEvents[] = [];
  private readonly queues: Queue[];

  constructor(private readonly sources: WatchSources) {
    this.emitter.setMaxListeners(0);
    // The connection the QueueEvents are given: BullMQ opens its blocking XREAD connection for each from
    // it (one per queue), and wants it without a retry limit.
    this.blocking = blockingCopy(sources.connection);
    this.blocking.on("error", () => {});
    // Read from the moment of creation, however long the connection takes: nothing after it is missed.
    const lastEventId = `${Date.now()}-0`;
    // The delivery queues of every shard, for status look-ups; their events; the dead-letter queue's events.
    this.queues = openDeliveryQueues(sources.connection, sources.deliveryPrefixes);
    for (const queue of this.queues) queue.on("error", () => {});
    const listen = (name: string, prefix: string) => {
      const events = new QueueEvents(name, { connection: this.blocking, prefix, lastEventId });
      events.on("error", () => {});
      this.listeners.push(events);
      return events;
    };
    for (const prefix of sources.deliveryPrefixes) {
      for (const name of DELIVERY_QUEUES) {
        const channel = channelOfQueue(name)!;
        const events = listen(name, prefix);
        events.on("completed", ({ jobId, returnvalue }) => {
          this.emitter.emit("touched", jobId);
          if (this.emitter.listenerCount("event") > 0) void this.accepted(jobId, channel, returnvalue as unknown as DeliveredValue);
        });
        events.on("failed", ({ jobId }) => this.emitter.emit("touched", jobId));
      }
    }
    const deadLetterEvents = listen(DEAD_LETTER_QUEUE, sources.prefix);
    deadLetterEvents.on("added", ({ jobId }) => {
      const original = DELIVERY_QUEUES.map((q) => (jobId.startsWith(`${q}-`) ? jobId.slice(q.length + 1) : undefined)).find(Boolean);
      if (original) this.emitter.emit("touched", original);
      if (this.emitter.listenerCount("event") > 0) void this.deadLettered(jobId);
    });
  }

  /**
   * Every accepted and dead-lettered notification from now on (buffered until read), until the loop is
   * left or `signal` aborts.
   */
  events(signal?: AbortSignal): AsyncIterableIterator<NotificationEvent> {
    // Closing the Herald ends every loop over its events, as does the caller's own signal.
    const iterator = on(this.emitter, "event", { signal: signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal });
    const done = { done: true as const, value: undefined };
    return {
      async next() {
        try {
          const next = await iterator.next();
          return next.done ? done : { done: false, value: (next.value as [NotificationEvent])[0] };
        } catch (error) {
          if ((error as Error).name === "AbortError") return done;
          throw error;
        }
      },
      async return() {
        await iterator.return?.();
        return done;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Resolves with the status once delivered (accepted by the provider) or dead-lettered; replays are followed. */
  async waitFor(id: string, timeoutMs: number): Promise<NotificationStatus> {
    const watched = new Set([id]);
    let last: NotificationStatus | undefined;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.emitter.off("touched", onTouched);
        this.closing.signal.removeEventListener("abort", onClose);
        outcome();
      };
      const check = async () => {
        try {
          const status = await lookupStatus(id, { queues: this.queues, deadLetters: this.sources.deadLetters, connection: this.sources.connection });
          if (!status) return;
          last = status;
          watched.add(status.id); // a replay continues under a new job id
          if (status.status === "delivered" || status.status === "dead-lettered") finish(() => resolve(status));
        } catch (error) {
          finish(() => reject(error));
        }
      };
      const onTouched = (jobId: string) => {
        if (watched.has(jobId)) void check();
      };
      const timer = setTimeout(() => finish(() => reject(new WaitTimeoutError(id, timeoutMs, last))), timeoutMs);
      const onClose = () => finish(() => reject(new Error(`the Herald was closed while waiting for notification ${id}`)));
      this.closing.signal.addEventListener("abort", onClose);
      // Listen first, then look: an event between the two is not missed.
      this.emitter.on("touched", onTouched);
      void check();
    });
  }

  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all(this.listeners.map((l) => l.close()));
    await Promise.all(this.queues.map((q) => q.close()));
    this.blocking.disconnect();
  }

  private async accepted(jobId: string, channel: ChannelName, value: DeliveredValue = {}): Promise<void> {
    const found = await Promise.all(this.queues.filter((q) => channelOfQueue(q.name) === channel).map((q) => q.getJob(jobId)));
    const job = found.find(Boolean);
    this.emitter.emit(
      "event",
      notificationEvent("notification.accepted", {
        id: jobId,
        kind: value.kind ?? job?.name ?? "unknown",
        channel,
        tenant: envelopeFacts(job?.data).tenant,
        status: "accepted",
        provider: value.provider ?? null,
        attempts: job?.attemptsMade ?? 1,
        times: { enqueuedAt: value.enqueuedAt ? new Date(value.enqueuedAt).toISOString() : undefined, acceptedAt: value.acceptedAt },
      }),
    );
  }

  private async deadLettered(letterId: string): Promise<void> {
    const letter = await this.sources.deadLetters.get(letterId);
    if (!letter) return;
    const { tenant, enqueuedAt } = envelopeFacts(letter.data);
    this.emitter.emit(
      "event",
      notificationEvent("notification.dead_lettered", {
        id: letter.originalJobId,
        kind: letter.kind,
        channel: channelOfQueue(letter.queue) ?? (letter.queue as ChannelName),
        tenant,
        status: "dead-lettered",
        provider: null,
        attempts: letter.attempts,
        times: { enqueuedAt, deadLetteredAt: letter.failedAt },
        failureClass: letter.failureClass,
        ...(letter.code ? { errorCode: letter.code } : {}),
      }),
    );
  }
}

/** A copy of the connection without a retry limit (as BullMQ wants for blocking reads), for a single node or a Cluster. */
function blockingCopy(connection: RedisClient): RedisClient {
  if (connection instanceof Cluster) {
    return connection.duplicate(undefined, { redisOptions: { ...connection.options.redisOptions, maxRetriesPerRequest: null } });
  }
  return connection.duplicate({ maxRetriesPerRequest: null, connectionName: "herald-watch" });
}
