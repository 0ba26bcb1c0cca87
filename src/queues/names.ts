import type { ChannelName } from "../contracts/index.js";

/** `{herald}`: the braces are a Redis Cluster hash tag, so all of Herald's keys land in one slot. */
export const DEFAULT_PREFIX = "{herald}";

export const QUEUE_OF_CHANNEL: Record<ChannelName, string> = { email: "email", sms: "sms" };
export const DEAD_LETTER_QUEUE = "dead-letter";
export const DELIVERY_QUEUES = Object.values(QUEUE_OF_CHANNEL);
export const ALL_QUEUES = [...DELIVERY_QUEUES, DEAD_LETTER_QUEUE];

export function assertPrefix(prefix: string): string {
  if (!/^\{[^{}]+\}/.test(prefix)) {
    throw new Error(`queue prefix "${prefix}" must start with a hash tag such as {herald}, so Redis Cluster keeps a queue's keys together`);
  }
  return prefix;
}
