import type { Queue } from "bullmq";
import { openDeliveryQueues } from "../queues/delivery-queues.js";
import { createRedis, describeRedis, redisTarget, type RedisClient, type RedisTarget } from "../queues/connection.js";
import { DeadlineError, withDeadline } from "../queues/deadline.js";
import { DeadLetters } from "../queues/dead-letter.js";
import { replayedEvent } from "../queues/notification-events.js";
import { WebhookOutbox, webhookPolicyOf } from "../queues/webhook-outbox.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { deliveryPrefixes } from "../queues/names.js";
import type { StatusSources } from "../queues/status.js";
import type { Config } from "../config/index.js";

/** Redis could not be reached, or stopped answering: one line for the operator, naming REDIS_URL. */
export class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
}

/** How long a CLI command waits for Redis to answer its first PING, and for any later command. */
export const CONNECT_TIMEOUT_MS = 3000;
export const COMMAND_TIMEOUT_MS = 10_000;

export { displayUrl } from "../queues/connection.js";

const CONNECTION_TROUBLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|Connection is closed|Stream isn't writeable|Command timed out|connect ETIMEDOUT|enableOfflineQueue|max retries per request/i;

/** Whether an error says Redis went away (as opposed to a usage or data error). */
export function isConnectionTrouble(error: unknown): boolean {
  if (error instanceof DeadlineError) return true;
  const e = error as { name?: string; message?: string } | undefined;
  return e?.name === "MaxRetriesPerRequestError" || CONNECTION_TROUBLE.test(e?.message ?? "");
}

/**
 * A connection for one CLI command, or a RedisUnavailableError within about CONNECT_TIMEOUT_MS.
 * Unlike the workers' connection it never reconnects and bounds every command: a command-line tool
 * should say "Redis is not there" and exit, not wait (BullMQ would wait for a lost connection forever).
 */
export async function connectRedis(url: string | RedisTarget, timeoutMs = CONNECT_TIMEOUT_MS): Promise<RedisClient> {
  const client = createRedis(url, "producer", {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  let lastError: Error | undefined;
  // Without a listener ioredis prints every connection error with its stack.
  client.on("error", (error: Error) => (lastError = error));
  try {
    await withDeadline(
      client.connect().then(() => client.ping()),
      timeoutMs + 500,
      "connect",
    );
    return client;
  } catch (error) {
    client.disconnect();
    throw unavailable(url, lastError ?? (error as Error), "does not answer");
  }
}

function unavailable(url: string | RedisTarget, cause: Error, what: string): RedisUnavailableError {
  const reason = cause instanceof DeadlineError ? `no answer within ${cause.ms} ms` : (cause.message || cause.name).split("\n")[0];
  const where = describeRedis(url);
  const variable = where.slice(0, where.indexOf("="));
  if (/certificate|altnames|self.signed|SSL|TLS/i.test(reason ?? "")) {
    return new RedisUnavailableError(
      `Redis at ${where} ${what} (${reason}): its TLS certificate was refused; check REDIS_TLS_CA_FILE (the CA that signed it) and that the certificate names the host in ${variable}`,
    );
  }
  return new RedisUnavailableError(`Redis at ${where} ${what} (${reason}); check ${variable} and that Redis is running`);
}

export interface OpsContext extends StatusSources {
  config: Config;
  connection: RedisClient;
  deadLetters: DeadLetters;
  /** The email and sms queues. */
  queues: Queue[];
}

/**
 * Runs a command that needs Redis: connects first (failing fast when Redis is not there), opens the
 * queues with their error events silenced (the command reports the failure once, itself), and turns a
 * connection lost mid-command into the same one-line error.
 */
export async function withRedis<T>(config: Config, work: (ops: OpsContext) => Promise<T>): Promise<T> {
  const target = redisTarget(config);
  const connection = await connectRedis(target);
  // A replay from the CLI is a delivery event like one from the API.
  const outbox = config.webhooks.length > 0 ? new WebhookOutbox(connection, config.HERALD_PREFIX, config.webhooks, webhookPolicyOf(config)) : undefined;
  const deadLetters = new DeadLetters(
    connection,
    config.HERALD_PREFIX,
    retryPolicyOf(config),
    outbox && ((letter, id) => outbox.publish(replayedEvent(letter, id))),
  );
  const queues = openDeliveryQueues(connection, deliveryPrefixes(config.HERALD_PREFIX, config.HERALD_SHARDS));
  for (const queue of [deadLetters.queue, ...queues, ...(outbox ? [outbox.queue] : [])]) queue.on("error", () => {});
  try {
    return await work({ config, connection, deadLetters, queues });
  } catch (error) {
    if (isConnectionTrouble(error)) throw unavailable(target, error as Error, "stopped answering");
    throw error;
  } finally {
    await Promise.all([...queues.map((q) => q.close()), deadLetters.close(), outbox?.close()]).catch(() => {});
    connection.disconnect();
  }
}
