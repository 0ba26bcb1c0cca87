/** The delivery events a producer can subscribe to (webhooks) or read (`herald.events()`). */
export const NOTIFICATION_EVENT_TYPES = [
  "notification.accepted",
  "notification.delivered",
  "notification.undelivered",
  "notification.dead_lettered",
  "notification.replayed",
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];
