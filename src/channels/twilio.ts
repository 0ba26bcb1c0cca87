import type { Receipt, SmsProvider } from "./provider.js";
import { classifyTwilioError } from "./twilio-errors.js";
import type { createTwilioClient } from "./twilio-client.js";

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** A sender number or alphanumeric sender id; or use messagingServiceSid. */
  from?: string;
  messagingServiceSid?: string;
  /** Where the API lives, for tests and egress proxies. Default: Twilio's own hosts. */
  baseUrl?: string;
  /** Sent as StatusCallback with every message: where Twilio reports sent, delivered, undelivered. */
  statusCallback?: string;
  /** The name in receipts, logs and metrics; default `twilio`. */
  provider?: string;
  /** HTTPS connections to Twilio at once (the SMS a worker process has in flight); the SDK's default is 20. */
  maxSockets?: number;
}

export function createTwilioProvider(opts: TwilioOptions): SmsProvider {
  // The SDK (≈25 MB) loads with the first SMS, not at start: a worker that sends no SMS never pays for it.
  let client: Promise<ReturnType<typeof createTwilioClient>> | undefined;
  const clientOf = () => (client ??= import("./twilio-client.js").then((m) => m.createTwilioClient(opts)));
  const sender = opts.messagingServiceSid ? { messagingServiceSid: opts.messagingServiceSid } : { from: opts.from! };
  const callback = opts.statusCallback ? { statusCallback: opts.statusCallback } : {};
  const name = opts.provider ?? "twilio";
  return {
    provider: name,
    async send(message): Promise<Receipt> {
      const sent = await (await clientOf()).messages.create({ to: message.to, body: message.body, ...sender, ...callback });
      return { provider: name, messageId: sent.sid, acceptedAt: new Date().toISOString() };
    },
    classify: classifyTwilioError,
    async close() {},
  };
}
