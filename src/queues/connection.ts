import { Redis, type RedisOptions } from "ioredis";

export type RedisInput = string | Redis;

/**
 * BullMQ needs `maxRetriesPerRequest: null` for blocking workers; producers get a bounded retry so an
 * enqueue while Redis is down fails within seconds instead of hanging the caller.
 */
export function createRedis(url: string, role: "worker" | "producer", extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === "worker" ? null : 3,
    enableOfflineQueue: true,
    connectionName: `herald-${role}`,
    ...extra,
  });
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
