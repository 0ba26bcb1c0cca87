import nodemailer from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool/index.js";
import type { EmailMessage, EmailProvider, Receipt } from "./provider.js";
import { classifySmtpError } from "./smtp-errors.js";
import type { DkimOptions } from "../config/dkim.js";
import { toMailOptions } from "./mail-options.js";

export interface SmtpOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465` (TLS from the start). */
  url: string;
  from: string;
  poolSize?: number;
  /** Mails per connection before the pool replaces it; default no limit (nodemailer's own default is 100). */
  maxMessages?: number;
  /**
   * With `smtp://`: refuse to send (and to log in) unless the server offers STARTTLS, so credentials and
   * codes never cross the network in clear text. Ignored with `smtps://`, which is TLS from the start.
   */
  requireTls?: boolean;
  /** DKIM signing (validated options from `dkimFromEnv`); unsigned when absent. */
  dkim?: DkimOptions;
  /** The name in receipts, logs and metrics; default `smtp` (fallback relays: `smtp-fallback`, …). */
  provider?: string;
}

export function createSmtpProvider(opts: SmtpOptions): EmailProvider {
  const transport = nodemailer.createTransport({
    url: opts.url,
    pool: true,
    maxConnections: opts.poolSize ?? 10,
    // A relay that wants fewer mails per connection says so (421, or closing it): the pool then reconnects and
    // the mail in hand is retried. Without a limit here a connection is not torn down, with its TLS handshake, every 100 mails.
    maxMessages: opts.maxMessages ?? Number.POSITIVE_INFINITY,
    // Bounded so a hung server turns into a retry instead of a stuck worker.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    ...(opts.requireTls && new URL(opts.url).protocol === "smtp:" ? { requireTLS: true } : {}),
  } as SMTPPool.Options);

  const name = opts.provider ?? "smtp";
  return {
    provider: name,
    async send(message: EmailMessage): Promise<Receipt> {
      // The signing travels with the message (toMailOptions), exactly as buildEml signs outbox files.
      const mail = toMailOptions(message, opts.from, { dkim: opts.dkim });
      const info = await transport.sendMail(mail);
      return { provider: name, messageId: info.messageId ?? mail.messageId, acceptedAt: new Date().toISOString() };
    },
    classify: classifySmtpError,
    async close() {
      transport.close();
    },
    async verify(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the SMTP server did not answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([transport.verify(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
