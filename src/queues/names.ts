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
