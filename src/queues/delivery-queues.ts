import { Queue } from "bullmq";
import type { RedisClient } from "./connection.js";
import { DELIVERY_QUEUES } from "./names.js";

/** Every delivery queue under each of these prefixes (the shards of HERALD_SHARDS, see deliveryPrefixes), for reading. */
export function openDeliveryQueues(connection: RedisClient, prefixes: readonly string[]): Queue[] {
  return prefixes.flatMap((prefix) => DELIVERY_QUEUES.map((name) => new Queue(name, { connection, prefix })));
}
