export interface EmailMessage {
  to: { address: string; name?: string };
  /** `Name <address>`; the channel's configured sender when absent. */
  from?: string;
  subject: string;
  html: string;
  text: string;
}

export interface SmsMessage {
  /** E.164 */
  to: string;
  body: string;
}

/** What a provider said when it took the message. */
export interface Receipt {
  provider: string;
  messageId: string;
  acceptedAt: string;
}

/** One provider. It sends what it is given and knows nothing of queues, retries or templates. */
export interface Channel<M> {
  readonly provider: string;
  send(message: M): Promise<Receipt>;
  close(): Promise<void>;
  /** Connects and logs in without sending (SMTP), to tell a wrong set-up at start rather than at the first job. */
  verify?(timeoutMs: number): Promise<void>;
}

export type EmailChannel = Channel<EmailMessage>;
export type SmsChannel = Channel<SmsMessage>;
