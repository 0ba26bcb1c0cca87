import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { parseHostPortList, redisTlsOn, type RedisVariables } from "../config/redis.js";
import { hashSlot } from "./names.js";

/** One server or Sentinel-managed master (`Redis`), or a Redis Cluster: what every part of Herald talks to. */
export type RedisClient = Redis | Cluster;

export type RedisInput = string | RedisClient;

/** Where Redis is, as the settings describe it (see config/redis.ts); built by `redisTarget`. */
export type RedisTarget =
  | { mode: "single"; url: string; tls?: ConnectionOptions }
  | { mode: "cluster"; nodes: HostPort[]; username?: string; password?: string; tls?: ConnectionOptions }
  | { mode: "sentinel"; sentinels: HostPort[]; name: string; username?: string; password?: string; tls?: ConnectionOptions };

interface HostPort {
  host: string;
  port: number;
}

/** A Redis setting that cannot be used (e.g. an unreadable TLS file): names the variable. */
export class RedisSettingsError extends Error {
  override readonly name = "RedisSettingsError";
}

/**
 * The target the settings describe: REDIS_CLUSTER_NODES, else REDIS_SENTINELS, else REDIS_URL; with the
 * TLS files read now, so an unreadable one stops start-up naming its variable instead of failing each connect.
 */
export function redisTarget(env: RedisVariables): RedisTarget {
  const tls = redisTlsOn(env) ? tlsOptions(env) : undefined;
  const auth = { ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}), ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}) };
  if (env.REDIS_CLUSTER_NODES) return { mode: "cluster", nodes: parseHostPortList(env.REDIS_CLUSTER_NODES), ...auth, ...(tls ? { tls } : {}) };
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_NAME) throw new RedisSettingsError("REDIS_SENTINEL_NAME is required with REDIS_SENTINELS");
    return { mode: "sentinel", sentinels: parseHostPortList(env.REDIS_SENTINELS), name: env.REDIS_SENTINEL_NAME, ...auth, ...(tls ? { tls } : {}) };
  }
  return { mode: "single", url: env.REDIS_URL, ...(tls ? { tls } : {}) };
}

function tlsOptions(env: RedisVariables): ConnectionOptions {
  const read = (variable: "REDIS_TLS_CA_FILE" | "REDIS_TLS_CERT_FILE" | "REDIS_TLS_KEY_FILE") => {
    const path = env[variable];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new RedisSettingsError(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  const ca = read("REDIS_TLS_CA_FILE");
  const cert = read("REDIS_TLS_CERT_FILE");
  const key = read("REDIS_TLS_KEY_FILE");
  // Without a CA file Node's own trust store applies; the server's certificate is always verified.
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), rejectUnauthorized: true };
}

/** The target as it may be printed (no password), naming the variable that set it. */
export function describeRedis(target: RedisTarget | string): string {
  if (typeof target === "string") return `REDIS_URL=${displayUrl(target)}`;
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(",");
  switch (target.mode) {
    case "single":
      return `REDIS_URL=${displayUrl(target.url)}`;
    case "cluster":
      return `REDIS_CLUSTER_NODES=${list(target.nodes)}`;
    case "sentinel":
      return `REDIS_SENTINELS=${list(target.sentinels)} (REDIS_SENTINEL_NAME=${target.name})`;
  }
}

/** The URL as it may be printed: without its password. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(not a URL)";
  }
}

/**
 * Reconnect delays: 50, 100, 200, 400, 800 ms, then once a second. A blip is over in a few tens of ms,
 * and after a restart Herald is back within a second (ioredis's default grows to 2 s, BullMQ's own to 20 s).
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 1000);
}

/**
 * After a Sentinel failover the old master comes back as a replica and refuses writes (READONLY): drop
 * the connection, ask the sentinels for the new master, and send the command again there.
 */
const reconnectOnReadonly = (error: Error) => (/READONLY/.test(error.message) ? 2 : false);

/**
 * The one factory for Redis connections (SDK, API, workers, CLI, board). BullMQ needs
 * `maxRetriesPerRequest: null` for blocking workers; producers get a bounded retry so an enqueue while
 * Redis is down fails within seconds instead of hanging the caller. Workers' blocking connections are
 * duplicates of this one and reconnect on the same schedule. A Cluster and Sentinel are ioredis's own
 * clients; Herald adds only the settings (retry delays, TLS, credentials).
 */
export function createRedis(url: string, role: "worker" | "producer", extra?: RedisOptions): Redis;
export function createRedis(target: RedisTarget | string, role: "worker" | "producer", extra?: RedisOptions): RedisClient;
export function createRedis(target: RedisTarget | string, role: "worker" | "producer", extra: RedisOptions = {}): RedisClient {
  const common: RedisOptions = {
    maxRetriesPerRequest: role === "worker" ? null : 3,
    enableOfflineQueue: true,
    connectionName: `herald-${role}`,
    retryStrategy: reconnectDelay,
  };
  if (typeof target === "string") return new Redis(target, { ...common, ...extra });
  const auth = {
    ...(target.mode !== "single" && target.username ? { username: target.username } : {}),
    ...(target.mode !== "single" && target.password ? { password: target.password } : {}),
  };
  switch (target.mode) {
    case "single":
      return new Redis(target.url, { ...common, ...(target.tls ? { tls: target.tls } : {}), ...extra });
    case "sentinel":
      return new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.name,
        role: "master",
        ...auth,
        ...(target.tls ? { tls: target.tls, sentinelTLS: target.tls, enableTLSForSentinelMode: true } : {}),
        // Subscribes to the sentinels' +switch-master: a failover is noticed at once, not at the next error.
        failoverDetector: true,
        sentinelRetryStrategy: extra.retryStrategy ?? reconnectDelay,
        reconnectOnError: reconnectOnReadonly,
        ...extra,
      });
    case "cluster": {
      const { retryStrategy, lazyConnect, enableOfflineQueue, ...nodeOptions } = { ...common, ...extra };
      const options: ClusterOptions = {
        clusterRetryStrategy: retryStrategy ?? reconnectDelay,
        ...(lazyConnect !== undefined ? { lazyConnect } : {}),
        enableOfflineQueue: enableOfflineQueue ?? true,
        // While a replica takes over a failed master, ask again every 200 ms for up to 10 s (50 redirections).
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 200,
        maxRedirections: 50,
        slotsRefreshTimeout: 2000,
        redisOptions: { ...nodeOptions, ...auth, ...(target.tls ? { tls: target.tls } : {}) },
      };
      return new Cluster(target.nodes, options);
    }
  }
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

/** True if a Redis answers PING at the URL (or target) within the timeout. */
export async function redisAnswers(url: string | RedisTarget, timeoutMs = 1000): Promise<boolean> {
  const client = createRedis(url, "producer", { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
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

/**
 * Redis WAIT: how many replicas confirmed every write this client sent so far, waiting up to `timeoutMs`
 * for `replicas` of them. WAIT counts the writes of its own connection, so on a Cluster it goes to the
 * connection ioredis keeps to the master of `key`'s slot (where the job was written).
 */
export async function waitForReplicas(client: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  return nodeOf(client, key).wait(replicas, timeoutMs);
}

/** The connection that serves `key`: the client itself, or on a Cluster the one to the master of key's slot. */
function nodeOf(client: RedisClient, key: string): Redis {
  if (!isCluster(client)) return client;
  const slot = hashSlot(key);
  const master = client.slots[slot]?.[0];
  const node = client.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === master);
  if (!node) throw new Error(`no connection to the master of slot ${slot} (${master ?? "unknown"}); the Cluster is changing its masters`);
  return node;
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Every key starting with `prefix` (glob characters in it are escaped). All Herald keys of one prefix
 * share its hash tag, so on a Cluster they sit in one slot: the scan goes to that slot's master.
 */
export async function scanKeys(client: RedisClient, prefix: string): Promise<string[]> {
  const node = nodeOf(client, prefix);
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await node.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", "1000");
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}
