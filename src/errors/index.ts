import { UnrecoverableError } from "bullmq";

/** Why a job ended in the dead-letter queue. */
export const FAILURE_CLASSES = ["permanent", "transient-exhausted", "invalid", "expired"] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/**
 * A failure no retry can fix. Extends BullMQ's UnrecoverableError so the job fails at once; the class
 * says why, for the dead-letter queue. Messages are already scrubbed of personal data and secrets.
 */
export class FinalFailure extends UnrecoverableError {
  constructor(
    readonly failureClass: Exclude<FailureClass, "transient-exhausted">,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "UnrecoverableError";
  }
}

/** The job's data does not match its contract (or cannot be decrypted): retrying the same bytes cannot help. */
export class InvalidJobError extends FinalFailure {
  constructor(message: string) {
    super("invalid", message);
  }
}

/** The code expired before it could be delivered; sending it would only confuse the user. */
export class ExpiredJobError extends FinalFailure {
  constructor(message: string) {
    super("expired", message);
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
    super(message);
  }
}
