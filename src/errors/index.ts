import { UnrecoverableError } from "bullmq";

/** Why a job ended in the dead-letter queue. */
export const FAILURE_CLASSES = ["permanent", "transient-exhausted", "invalid", "expired", "suppressed"] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** How a failed attempt is recorded: the dead-letter classes a single failure can have, or transient (retried). */
type AttemptClass = Exclude<FailureClass, "transient-exhausted"> | "transient";

/**
 * BullMQ keeps only an error's message (as the job's failedReason), so the class and provider code go
 * into it as a leading tag, `[permanent smtp-550] smtp: 550 …`, written with the failure in the same
 * Redis call. `readFailure` reads it back, whether the failed event is at hand or only the stored job
 * (a sweep after a restart).
 */
function tagged(failureClass: AttemptClass, message: string, code?: string): string {
  return `[${failureClass}${code ? ` ${safeCode(code)}` : ""}] ${message}`;
}

const TAG = /^\[(permanent|invalid|expired|suppressed|transient)(?: ([\w.-]{1,40}))?\] /;

/** Provider codes are ours (`smtp-550`) or an errno (`ECONNREFUSED`); anything else is made tag-safe. */
function safeCode(code: string): string {
  return code.replace(/[^\w.-]/g, "_").slice(0, 40) || "error";
}

/**
 * A failure no retry can fix. Extends BullMQ's UnrecoverableError, which BullMQ recognises with
 * `instanceof` (or the name `UnrecoverableError`), so the job fails at once while the error keeps its own
 * name. The class says why, for the dead-letter queue. Messages are already scrubbed of personal data and secrets.
 */
export class FinalFailure extends UnrecoverableError {
  constructor(
    readonly failureClass: Exclude<FailureClass, "transient-exhausted">,
    message: string,
    readonly code?: string,
  ) {
    super(tagged(failureClass, message, code));
    this.name = new.target.name;
  }
}

/** The job's data does not match its contract (or cannot be decrypted): retrying the same bytes cannot help. */
export class InvalidJobError extends FinalFailure {
  constructor(message: string, code?: string) {
    super("invalid", message, code);
  }
}

/** The code expired before it could be delivered; sending it would only confuse the user. */
export class ExpiredJobError extends FinalFailure {
  constructor(message: string) {
    super("expired", message);
  }
}

/** The recipient is on the suppression list (an earlier hard bounce, or an operator's entry): not sent, no provider asked. */
export class SuppressedError extends FinalFailure {
  constructor(message: string, code = "suppressed") {
    super("suppressed", message, code);
  }
}

/** The provider refused the message for good (e.g. SMTP 550, Twilio 21211). */
export class PermanentDeliveryError extends FinalFailure {
  constructor(message: string, code?: string) {
    super("permanent", message, code);
  }
}

/** The provider may take it later (SMTP 4xx, connection errors, Twilio 429/5xx): BullMQ retries with backoff. */
export class TransientDeliveryError extends Error {
  override readonly name = "TransientDeliveryError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(tagged("transient", message, code));
  }
}

export interface RecordedFailure {
  failureClass: FailureClass;
  code?: string;
  /** The message without its tag. */
  reason: string;
}

/**
 * The class and code of a job's final failure, from its stored reason (or the error in hand, which
 * carries the same message). Transient failures are `transient-exhausted` (they end a job only when its
 * attempts run out); an untagged reason is BullMQ's own (a job that stalled too often) or from before
 * tags existed: exhausted if its attempts ran out, otherwise permanent.
 */
export function readFailure(reasonText: string | undefined, attemptsExhausted: boolean): RecordedFailure {
  const text = reasonText ?? "unknown failure";
  const tag = TAG.exec(text);
  if (!tag) return { failureClass: attemptsExhausted || /stalled/.test(text) ? "transient-exhausted" : "permanent", reason: text };
  const [, cls, code] = tag;
  return { failureClass: cls === "transient" ? "transient-exhausted" : (cls as FailureClass), ...(code ? { code } : {}), reason: text.slice(tag[0].length) };
}

/** Which limit refused an enqueue: see the README's "Protecting against abuse". */
export const LIMIT_NAMES = ["cooldown", "address", "user", "sms-country"] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/**
 * An enqueue refused by a resend limit or the SMS-pumping guard: nothing was queued and nothing was
 * counted. `retryAfter` is in whole seconds (at least 1): the earliest moment the same enqueue can pass.
 */
export class RateLimitedError extends Error {
  override readonly name = "RateLimitedError";
  constructor(
    readonly limit: LimitName,
    readonly retryAfter: number,
    message: string,
    /** For `sms-country`: this enqueue opened the country's breaker (ops alert on it). */
    readonly opened = false,
    readonly country?: string,
  ) {
    super(message);
  }
}
