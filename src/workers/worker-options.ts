import type { WorkerOptions } from "bullmq";
import type { RedisClient } from "../queues/connection.js";

/** What each of Herald's BullMQ workers (email, SMS, webhooks) is set up with. */
export interface WorkerSettings {
  connection: RedisClient;
  prefix: string;
  concurrency: number;
  lockMs: number;
  stalledIntervalMs: number;
}

/** The BullMQ options every Herald worker shares; each starts only when told (`autorun: false`). */
export function workerOptions(opts: WorkerSettings): WorkerOptions {
  return {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: opts.stalledIntervalMs,
    // A job whose worker died twice is suspicious (it may be what kills workers): the second stall dead-letters it.
    maxStalledCount: 1,
    // After a Redis error BullMQ waits this long before it asks for jobs again (default 15 s): Redis
    // reconnects within a second (see reconnectDelay), so should the worker.
    runRetryDelay: 1000,
    autorun: false,
  };
}
