import type { RedisClient } from "./connection.js";
import type { ChannelName } from "../contracts/index.js";

/**
 * What a provider reports after it accepted a message (Twilio's status callbacks): whether it reached
 * the handset. Kept beside the queues' keys (same hash tag), keyed by the provider's message id, with a
 * time to live; no recipient, code or text is ever stored here.
 */

/** `sent`: handed to the carrier; `delivered` / `undelivered`: the carrier's final word about the handset. */
export type HandsetStatus = "accepted" | "sent" | "delivered" | "undelivered";

export interface HandsetReport {
  status: HandsetStatus;
  /** When Herald learnt the current status (ISO time). */
  at: string;
  /** When the carrier had it, if a `sent` arrived before the final word. */
  sentAt?: string;
  /** The provider's error code with an undelivered, e.g. `twilio-30003`. */
  errorCode?: string;
}

/** Which notification a provider's message id belongs to (for events); no personal data. */
export interface NotificationRef {
  id: string;
  kind: string;
  channel: ChannelName;
  tenant?: string;
  provider: string;
  attempts: number;
  enqueuedAt?: string;
  acceptedAt?: string;
  /** The recipient's suppression-list id (a keyed hash, never the number): a permanent failure report suppresses it. */
  suppressionId?: string;
}

/** Status reports and message-id references are kept this long: carriers report within hours, 72 h at most. */
export const REPORT_TTL_SECONDS = 7 * 86_400;

/** Later states outrank earlier ones; a report applies only if it outranks what is stored (idempotent, monotonic). */
const RANK: Record<HandsetStatus, number> = { accepted: 1, sent: 2, delivered: 3, undelivered: 3 };

// KEYS[1] report hash; ARGV: rank, status, at, errorCode ('' for none), ttl. Returns 1 if applied.
const APPLY = `
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
if tonumber(ARGV[1]) <= current then return 0 end
redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'status', ARGV[2], 'at', ARGV[3])
if ARGV[2] == 'sent' then redis.call('HSET', KEYS[1], 'sentAt', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'errorCode', ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`;

export class ProviderReports {
  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
  ) {}

  /**
   * Called by the worker right after the provider accepted the message, before the job completes.
   * Returns a report that arrived before the reference was written (a callback faster than the worker),
   * whose event only the worker can publish now that the notification is known.
   */
  async remember(provider: string, messageId: string, ref: NotificationRef): Promise<HandsetReport | undefined> {
    await this.connection.set(this.refKey(provider, messageId), JSON.stringify(ref), "EX", REPORT_TTL_SECONDS);
    return this.get(provider, messageId);
  }

  async lookup(provider: string, messageId: string): Promise<NotificationRef | undefined> {
    const raw = await this.connection.get(this.refKey(provider, messageId));
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as NotificationRef;
    } catch {
      return undefined;
    }
  }

  /**
   * Records a report unless an equal or later one is already there: a repeated callback, or a `sent`
   * arriving after `delivered`, changes nothing. True when it was applied.
   */
  async apply(provider: string, messageId: string, report: { status: HandsetStatus; at: Date; errorCode?: string }): Promise<boolean> {
    const applied = await this.connection.eval(
      APPLY,
      1,
      this.reportKey(provider, messageId),
      String(RANK[report.status]),
      report.status,
      report.at.toISOString(),
      report.errorCode ?? "",
      String(REPORT_TTL_SECONDS),
    );
    return applied === 1;
  }

  async get(provider: string, messageId: string): Promise<HandsetReport | undefined> {
    const fields = await this.connection.hgetall(this.reportKey(provider, messageId));
    if (!fields.status || !(fields.status in RANK) || !fields.at) return undefined;
    return {
      status: fields.status as HandsetStatus,
      at: fields.at,
      ...(fields.sentAt ? { sentAt: fields.sentAt } : {}),
      ...(fields.errorCode ? { errorCode: fields.errorCode } : {}),
    };
  }

  private refKey(provider: string, messageId: string): string {
    return `${this.prefix}:message:${provider}:${messageId}`;
  }

  private reportKey(provider: string, messageId: string): string {
    return `${this.prefix}:report:${provider}:${messageId}`;
  }
}
