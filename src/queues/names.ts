import { createHash } from "node:crypto";
import type { ChannelName } from "../contracts/index.js";

import { HASH_TAGGED } from "../config/defaults.js";

export { DEFAULT_PREFIX, HASH_TAGGED } from "../config/defaults.js";

export const QUEUE_OF_CHANNEL: Record<ChannelName, string> = { email: "email", sms: "sms" };
export const DEAD_LETTER_QUEUE = "dead-letter";
export const DELIVERY_QUEUES = Object.values(QUEUE_OF_CHANNEL);
/** Delivery events to producers' webhook endpoints: their own queue and dead letters, so they never hold up mail. */
export const WEBHOOK_QUEUE = "webhooks";
export const WEBHOOK_DEAD_LETTER_QUEUE = "webhook-dead-letter";
export const ALL_QUEUES = [...DELIVERY_QUEUES, DEAD_LETTER_QUEUE];

const CHANNEL_OF_QUEUE = new Map(Object.entries(QUEUE_OF_CHANNEL).map(([channel, queue]) => [queue, channel as ChannelName]));

/** `email` → email; undefined for the dead-letter queue or a queue that is not Herald's. */
export function channelOfQueue(queueName: string): ChannelName | undefined {
  return CHANNEL_OF_QUEUE.get(queueName);
}

export function assertPrefix(prefix: string): string {
  if (!HASH_TAGGED.test(prefix)) {
    throw new Error(`queue prefix "${prefix}" must start with a hash tag such as {herald}, so Redis Cluster keeps a queue's keys together`);
  }
  return prefix;
}

/**
 * Sharded queues (HERALD_SHARDS). With one shard (the default) every queue lives under the prefix itself,
 * exactly as before sharding existed. With N > 1 each channel's queue is N BullMQ queues, one per prefix
 * `{herald:0}` … `{herald:N-1}` (the hash tag gets the shard number), so a Redis Cluster spreads them
 * over its masters. A job's shard follows from its recipient (shardOf), so one recipient's jobs stay in
 * one queue, in order. The dead-letter queue and the replay trail stay under the prefix itself: dead
 * letters are few, and one queue keeps listing, replay and purge as they were. Job ids are UUIDs, unique
 * across shards: a look-up by id asks every shard (see status.ts), ids carry no shard.
 *
 * Shard i's hash tag is placed in the i-th of N equal slices of the 16384 Cluster slots: `{herald:i}` if
 * its slot falls there, else `{herald:i:s}` with the smallest salt s that does. A Cluster whose masters own
 * equal slot ranges (what `redis-cli --cluster create` and `rebalance` make) then has one shard on each
 * master when N is the number of masters; plain hashing would put two of three shards on one master more
 * often than not. The names depend on the prefix and N only: every process computes the same.
 */
export function shardPrefix(prefix: string, shard: number, shards: number): string {
  if (shards <= 1) return prefix;
  const key = `${prefix}|${shard}|${shards}`;
  let sharded = placed.get(key);
  if (sharded === undefined) {
    const tag = HASH_TAGGED.exec(prefix)?.[0] ?? "{herald}";
    const inner = tag.slice(1, -1);
    const [from, to] = [Math.floor((shard * SLOTS) / shards), Math.floor(((shard + 1) * SLOTS) / shards)];
    for (let salt = 0; ; salt++) {
      const candidate = salt === 0 ? `${inner}:${shard}` : `${inner}:${shard}:${salt}`;
      const slot = crc16(candidate) % SLOTS;
      if (slot >= from && slot < to) {
        sharded = `{${candidate}}${prefix.slice(tag.length)}`;
        break;
      }
    }
    placed.set(key, sharded);
  }
  return sharded;
}

const placed = new Map<string, string>();
const SLOTS = 16_384;

/** The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key without one, modulo 16384 (the Cluster specification). */
export function hashSlot(key: string): number {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return crc16(close > open + 1 ? key.slice(open + 1, close) : key) % SLOTS;
}

function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, "utf8")) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The prefixes producers write to: one per shard. */
export function shardPrefixes(prefix: string, shards: number): string[] {
  return Array.from({ length: Math.max(1, shards) }, (_, i) => shardPrefix(prefix, i, shards));
}

/**
 * The prefixes whose delivery queues are worked, counted and searched: every shard and, once sharded,
 * the prefix itself too, so jobs queued before HERALD_SHARDS was raised are still delivered (no migration).
 */
export function deliveryPrefixes(prefix: string, shards: number): string[] {
  return shards <= 1 ? [prefix] : [...shardPrefixes(prefix, shards), prefix];
}

/** The shard of a recipient: the first 32 bits of the SHA-256 of its address, modulo the shard count. Stable across processes and versions. */
export function shardOf(recipientKey: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash("sha256").update(recipientKey).digest().readUInt32BE(0) % shards;
}

/** What a job's shard is chosen by: the address its channel delivers to (lower-cased email, or phone), else the user id. */
export function recipientKey(channel: ChannelName, job: { recipient?: { email?: string; phone?: string; userId?: string } }): string {
  const r = job.recipient ?? {};
  const address = channel === "email" ? r.email?.trim().toLowerCase() : r.phone?.trim();
  return `${channel}:${address ?? r.userId ?? ""}`;
}

/** The prefix a BullMQ job's queue lives under (`{herald:1}` for `{herald:1}:email`). */
export function prefixOfJob(job: { queueQualifiedName: string; queueName: string }): string {
  return job.queueQualifiedName.slice(0, job.queueQualifiedName.length - job.queueName.length - 1);
}

/** `{herald:1}` or `{herald:1:4}` → "1"; the prefix itself → undefined. For labels (Bull Board) only. */
export function shardLabel(prefix: string, base: string): string | undefined {
  if (prefix === base) return undefined;
  return /:(\d+)(?::\d+)?\}/.exec(prefix)?.[1];
}
