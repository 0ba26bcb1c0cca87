import type { Config } from "../config/index.js";
import { classifyOther, type EmailMessage, type EmailProvider, type Provider, type Receipt, type SmsMessage, type SmsProvider } from "./provider.js";
import { dkimFromEnv } from "../config/dkim.js";
import { createOutboxEmailProvider, createOutboxSmsProvider } from "./outbox.js";
import { createSmtpProvider } from "./smtp.js";
import { createTwilioProvider } from "./twilio.js";

export type { Classified, EmailMessage, EmailProvider, Provider, Receipt, SmsMessage, SmsProvider } from "./provider.js";

export const DEFAULT_FROM = "Herald <no-reply@localhost>";

/**
 * Stands in for a channel with no provider configured, in a process that works no queue of that channel
 * (`herald worker --queues email` needs no Twilio). Workers of that channel refuse to start (providerIssues).
 */
function unconfigured<M>(channel: string): Provider<M> {
  return {
    provider: "none",
    async send(): Promise<Receipt> {
      throw new Error(`no ${channel} provider is configured in this process`);
    },
    classify: (error) => classifyOther(error, "no-provider"),
    async close() {},
  };
}

/** The configured provider per channel: SMTP/Twilio, or the outbox when chosen (or in development). */
export function providersFromConfig(config: Config): { email: EmailProvider; sms: SmsProvider } {
  // Validated by loadConfig already; read here so the key stays out of the config object.
  const dkim = dkimFromEnv(config);
  const email =
    config.emailChannel === "smtp"
      ? createSmtpProvider({
          url: config.SMTP_URL!,
          from: config.SMTP_FROM!,
          poolSize: config.SMTP_POOL_SIZE,
          maxMessages: config.SMTP_POOL_MAX_MESSAGES,
          requireTls: config.smtpRequireTls,
          dkim,
        })
      : config.emailChannel === undefined
        ? unconfigured<EmailMessage>("email")
        : createOutboxEmailProvider({ dir: config.HERALD_OUTBOX_DIR, from: config.SMTP_FROM ?? DEFAULT_FROM, dkim });
  const sms =
    config.smsChannel === "twilio"
      ? createTwilioProvider({
          accountSid: config.TWILIO_ACCOUNT_SID!,
          authToken: config.TWILIO_AUTH_TOKEN!,
          from: config.TWILIO_FROM,
          messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
          baseUrl: config.TWILIO_API_BASE_URL,
        })
      : config.smsChannel === undefined
        ? unconfigured<SmsMessage>("SMS")
        : createOutboxSmsProvider({ dir: config.HERALD_OUTBOX_DIR });
  return { email, sms };
}
