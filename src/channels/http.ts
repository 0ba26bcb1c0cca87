import { randomUUID } from "node:crypto";
import { signWebhook } from "../webhooks/standard-webhooks.js";
import { classifyOther, type Classified, type EmailMessage, type Provider, type Receipt, type SmsMessage } from "./provider.js";

export interface HttpProviderOptions {
  /** Where the messages are POSTed. */
  url: string;
  /** `whsec_…` secrets (the first signs; several during a rotation, each adds a signature). */
  secrets: readonly string[];
  timeoutMs: number;
  /** The sender for mails whose tenant names none. */
  from?: string;
  /** The provider's name in receipts, logs and metrics. Default `http`. */
  name?: string;
}

/** The receiver's answer that was not 2xx, or no answer in time. */
export class HttpProviderError extends Error {
  override readonly name = "HttpProviderError";
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * 2xx delivered; 4xx the message is refused for good, except 408 and 429 (wait and retry) and 401/403
 * (our secret or URL is wrong: like SMTP authentication errors, the messages wait for the fix rather
 * than pour into the dead letters); 5xx, timeouts and connection errors transient.
 */
export function classifyHttpError(error: unknown): Classified {
  if (!(error instanceof HttpProviderError)) return classifyOther(error, "http-error");
  if (error.status === undefined) return { permanent: false, code: error.code ?? "http-error" };
  const transient = error.status >= 500 || [401, 403, 408, 429].includes(error.status);
  return { permanent: !transient && error.status >= 400, code: `http-${error.status}` };
}

/**
 * The HTTP provider, for mail and SMS alike (Supabase calls it a send hook): the rendered message as JSON,
 * signed per Standard Webhooks (webhook-id = the job's id, the same on every retry). Lets a team use any
 * email API or SMS gateway without code in Herald.
 */
export function createHttpProvider<M extends EmailMessage | SmsMessage>(
  channel: M extends EmailMessage ? "email" : "sms",
  opts: HttpProviderOptions,
): Provider<M> {
  const name = opts.name ?? "http";
  return {
    provider: name,
    async send(message: M): Promise<Receipt> {
      const meta = message.meta;
      const common = { kind: meta?.kind, channel, locale: meta?.locale, tenant: meta?.tenant ?? null };
      const payload =
        "subject" in message
          ? {
              ...common,
              to: message.to.address,
              toName: message.to.name ?? null,
              from: message.from ?? opts.from ?? null,
              subject: message.subject,
              html: message.html,
              text: message.text,
            }
          : { ...common, to: message.to, body: message.body };
      const body = JSON.stringify(payload);
      const id = `msg_${meta?.jobId ?? randomUUID()}`;
      let response: Response;
      try {
        response = await fetch(opts.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "Herald", ...signWebhook(opts.secrets, id, body) },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs),
          redirect: "error",
        });
      } catch (error) {
        const e = error as Error & { cause?: { code?: string } };
        if (e.name === "TimeoutError") throw new HttpProviderError(`no answer within ${opts.timeoutMs} ms`, undefined, "http-timeout");
        const code = e.cause?.code;
        throw new HttpProviderError(`request failed: ${code ?? e.message}`, undefined, code ?? "http-error");
      }
      const text = await response.text().catch(() => "");
      if (!response.ok) throw new HttpProviderError(`answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`, response.status);
      let messageId = id;
      try {
        const answer = JSON.parse(text) as { id?: unknown; messageId?: unknown };
        const given = answer.messageId ?? answer.id;
        if (typeof given === "string" && given.length > 0 && given.length <= 200) messageId = given;
      } catch {
        // A 2xx without a JSON body is fine: the webhook-id is the message id.
      }
      return { provider: name, messageId, acceptedAt: new Date().toISOString() };
    },
    classify: classifyHttpError,
    async close() {},
  };
}
