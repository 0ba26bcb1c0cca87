import { Redis, type RedisOptions } from "ioredis";

export type RedisInput = string | Redis;

/**
 * Reconnect delays: 50, 100, 200, 400, 800 ms, then once a second. A blip is over in a few tens of ms,
 * and after a restart Herald is back within a second (ioredis's default grows to 2 s, BullMQ's own to 20 s).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 1000);
}

/**
 * BullMQ needs `maxRetriesPerRequest: null` for blocking workers; producers get a bounded retry so an
 * enqueue while Redis is down fails within seconds instead of hanging the caller. Workers' blocking
 * connections are duplicates of this one and reconnect on the same schedule.
 */
export function createRedis(url: string, role: "worker" | "producer", extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "worker" ? null : 3,
    enableOfflineQueue: true,
    connectionName: `herald-${role}`,
    retryStrategy: reconnectDelay,
    ...extra,
  });
}

interface ErrorEmitter {
  on(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * Every BullMQ Queue, Worker and QueueEvents needs an 'error' listener: without one BullMQ prints each
 * connection error's multi-line stack to the console (into the JSON log). This reports the first error
 * and then at most one per `quietMs`, each as one line; returns a function that removes the listener.
 */
export function reportErrors(emitter: ErrorEmitter, report: (error: Error, suppressed: number) => void, quietMs = 60_000): () => void {
  let last = 0;
  let suppressed = 0;
  const listener = (error: Error) => {
    const now = Date.now();
    if (now - last < quietMs) {
      suppressed++;
      return;
    }
    last = now;
    report(error, suppressed);
    suppressed = 0;
  };
  emitter.on("error", listener);
  return () => emitter.off("error", listener);
}

/** True if a Redis answers PING at the URL within the timeout. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
