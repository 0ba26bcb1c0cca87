/** What the message is, for providers that pass it on (the HTTP provider); SMTP and Twilio ignore it. */
export interface MessageMeta {
  kind: string;
  locale: string;
  tenant?: string;
  /** The job's id: the HTTP provider's webhook-id, the same on every retry so a receiver can drop repeats. */
  jobId?: string;
}

export interface EmailMessage {
  to: { address: string; name?: string };
  /** `Name <address>`; the provider's configured sender when absent. */
  from?: string;
  subject: string;
  html: string;
  text: string;
  meta?: MessageMeta;
}

export interface SmsMessage {
  /** E.164 */
  to: string;
  body: string;
  meta?: MessageMeta;
}

/** What a provider said when it took the message. */
export interface Receipt {
  provider: string;
  messageId: string;
  acceptedAt: string;
}

/** How a failed send is handled: retried (transient) or dead-lettered at once (permanent), and the code it is counted by. */
export interface Classified {
  permanent: boolean;
  /** The provider's code as a string, e.g. `smtp-550`, `twilio-21211`, `ECONNREFUSED`. */
  code: string;
  /**
   * The recipient itself is unreachable for good (no such mailbox, a landline, an opted-out number): the
   * address goes on the suppression list. Only ever with `permanent`.
   */
  hardBounce?: boolean;
}

/**
 * One provider of a channel (SMTP or the outbox for email, Twilio or the outbox for SMS). It sends what
 * it is given and knows nothing of queues, retries or templates; it knows its own error codes.
 */
export interface Provider<M> {
  readonly provider: string;
  send(message: M): Promise<Receipt>;
  /** What a failure of `send` means: only the provider can read its own error codes. */
  classify(error: unknown): Classified;
  close(): Promise<void>;
  /** Connects and logs in without sending (SMTP), to tell a wrong set-up at start rather than at the first job. */
  verify?(timeoutMs: number): Promise<void>;
}

export type EmailProvider = Provider<EmailMessage>;
export type SmsProvider = Provider<SmsMessage>;

/** Errors that carry no provider code (a socket, a file system): always worth another try. */
export function classifyOther(error: unknown, fallback: string): Classified {
  const code = (error as { code?: unknown } | undefined)?.code;
  return { permanent: false, code: typeof code === "string" || typeof code === "number" ? String(code) : fallback };
}
