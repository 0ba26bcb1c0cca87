import { twilioCallbackUrl, type Config } from "../config/index.js";
import { classifyOther, type EmailMessage, type EmailProvider, type Provider, type Receipt, type SmsMessage, type SmsProvider } from "./provider.js";
export type { FailoverEvent } from "./failover.js";
import { dkimFromEnv } from "../config/dkim.js";
import { createOutboxEmailProvider, createOutboxSmsProvider } from "./outbox.js";
import { createSmtpProvider } from "./smtp.js";
import { createTwilioProvider } from "./twilio.js";
import { createHttpProvider } from "./http.js";
import { inOrder, type FailoverEvent } from "./failover.js";

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

/**
 * The configured providers per channel, in order: the primary (SMTP, Twilio, the HTTP provider or the
 * outbox), then SMTP_FALLBACK_URL's relays or the TWILIO_FALLBACK_* sender, then the HTTP provider where
 * HERALD_HTTP_PROVIDER_FALLBACK names the channel. Several are wrapped in one failover (failover.ts);
 * `onEvent` hears its breaker changes and failovers.
 */
export function providersFromConfig(
  config: Config,
  onEvent?: (channel: "email" | "sms", event: FailoverEvent) => void,
): { email: EmailProvider; sms: SmsProvider } {
  // Validated by loadConfig already; read here so the key stays out of the config object.
  const dkim = dkimFromEnv(config);
  const from = config.SMTP_FROM ?? DEFAULT_FROM;
  const http = <M extends EmailMessage | SmsMessage>(channel: "email" | "sms") =>
    createHttpProvider<M>(channel as never, {
      url: config.HERALD_HTTP_PROVIDER_URL!,
      secrets: config.HERALD_HTTP_PROVIDER_SECRET!,
      timeoutMs: config.HERALD_HTTP_PROVIDER_TIMEOUT_MS,
      from,
    });
  const smtp = (url: string, provider: string) =>
    createSmtpProvider({
      url,
      from: config.SMTP_FROM!,
      poolSize: config.SMTP_POOL_SIZE,
      maxMessages: config.SMTP_POOL_MAX_MESSAGES,
      requireTls: config.smtpRequireTls,
      dkim,
      provider,
    });

  const emails: EmailProvider[] = [];
  if (config.emailChannel === "smtp") emails.push(smtp(config.SMTP_URL!, "smtp"));
  else if (config.emailChannel === "http") emails.push(http<EmailMessage>("email"));
  else if (config.emailChannel === "outbox") emails.push(createOutboxEmailProvider({ dir: config.HERALD_OUTBOX_DIR, from, dkim }));
  if (config.emailChannel && config.emailChannel !== "outbox") {
    (config.SMTP_FALLBACK_URL ?? []).forEach((url, i) => emails.push(smtp(url, i === 0 ? "smtp-fallback" : `smtp-fallback-${i + 1}`)));
    if (config.emailChannel !== "http" && config.HERALD_HTTP_PROVIDER_FALLBACK.includes("email")) emails.push(http<EmailMessage>("email"));
  }

  const smses: SmsProvider[] = [];
  // As many connections as SMS a worker process has in flight: its concurrency on each of its SMS queues
  // (one per shard, plus the unsharded one once sharded). The SDK's default of 20 would queue the rest.
  const maxSockets = config.HERALD_SMS_CONCURRENCY * (config.HERALD_SHARDS > 1 ? config.HERALD_SHARDS + 1 : 1);
  if (config.smsChannel === "twilio") {
    smses.push(
      createTwilioProvider({
        accountSid: config.TWILIO_ACCOUNT_SID!,
        authToken: config.TWILIO_AUTH_TOKEN!,
        from: config.TWILIO_FROM,
        messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
        baseUrl: config.TWILIO_API_BASE_URL,
        statusCallback: config.HERALD_PUBLIC_URL ? twilioCallbackUrl(config.HERALD_PUBLIC_URL) : undefined,
        maxSockets,
      }),
    );
  } else if (config.smsChannel === "http") smses.push(http<SmsMessage>("sms"));
  else if (config.smsChannel === "outbox") smses.push(createOutboxSmsProvider({ dir: config.HERALD_OUTBOX_DIR }));
  if (config.smsChannel && config.smsChannel !== "outbox") {
    if (config.TWILIO_FALLBACK_ACCOUNT_SID) {
      smses.push(
        createTwilioProvider({
          accountSid: config.TWILIO_FALLBACK_ACCOUNT_SID,
          authToken: config.TWILIO_FALLBACK_AUTH_TOKEN!,
          from: config.TWILIO_FALLBACK_FROM,
          messagingServiceSid: config.TWILIO_FALLBACK_MESSAGING_SERVICE_SID,
          baseUrl: config.TWILIO_FALLBACK_API_BASE_URL ?? config.TWILIO_API_BASE_URL,
          provider: "twilio-fallback",
          maxSockets,
        }),
      );
    }
    if (config.smsChannel !== "http" && config.HERALD_HTTP_PROVIDER_FALLBACK.includes("sms")) smses.push(http<SmsMessage>("sms"));
  }

  const breaker = { failures: config.HERALD_BREAKER_FAILURES, coolOffMs: config.HERALD_BREAKER_COOLOFF_MS };
  return {
    email: emails.length ? inOrder(emails, breaker, (e) => onEvent?.("email", e)) : unconfigured<EmailMessage>("email"),
    sms: smses.length ? inOrder(smses, breaker, (e) => onEvent?.("sms", e)) : unconfigured<SmsMessage>("SMS"),
  };
}
