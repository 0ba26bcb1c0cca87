import type { Job } from "bullmq";
import { channelOf, parseJob, resolveLink, ValidationError, type ChannelName, type KindName, type LooseJob } from "../contracts/index.js";
import type { EmailProvider, Receipt, SmsProvider } from "../channels/provider.js";
import { ExpiredJobError, InvalidJobError, PermanentDeliveryError, SuppressedError, TransientDeliveryError } from "../errors/index.js";
import type { Suppressions } from "../queues/suppressions.js";
import type { Limits } from "../queues/limits.js";
import { envelopeSchema, openEnvelope } from "../queues/envelope.js";
import { scrub } from "../redact.js";
import { DecryptError } from "../secrets/cipher.js";
import type { KeyMaterial } from "../secrets/key.js";
import type { Renderer } from "../templates/renderer.js";
import { inSpan } from "../telemetry/tracing.js";

export interface PipelineDeps {
  key: KeyMaterial;
  renderer: Renderer;
  email: EmailProvider;
  sms: SmsProvider;
  /** The suppression list: checked before a send, added to on a hard bounce. None: neither. */
  suppressions?: Suppressions;
  /** The SMS-pumping guard's second look at a queued SMS (number, allowlist, country breaker). None: no second look. */
  limits?: Pick<Limits, "refusalOfQueued">;
  now?: () => number;
  /**
   * Told once the provider accepted a message, before the job completes (so a provider's status callback
   * can find its notification). Its failure never fails the job: the message is already sent.
   */
  onAccepted?: (accepted: AcceptedMessage) => Promise<void>;
  /** Spans for render and send (OpenTelemetry), inside the job's span; off: none. */
  tracing?: boolean;
}

/** A message the provider took, as onAccepted hears of it: ids and times only. */
export interface AcceptedMessage {
  job: Job;
  receipt: Receipt;
  channel: ChannelName;
  kind: KindName;
  tenant?: string;
  enqueuedAt: number;
  /** The address it went to, in memory only (for its suppression-list id); never stored or logged. */
  recipient: string;
}

/** What a delivered job returns (stored by BullMQ as the job's result). No personal data. */
export interface DeliveryResult extends Receipt {
  channel: ChannelName;
  kind: KindName;
  locale: string;
  enqueuedAt: number;
}

/** validate → decrypt → check expiry → render → send → classify. One function per job, no state. */
export function createProcessor(queueChannel: ChannelName, deps: PipelineDeps) {
  const now = deps.now ?? Date.now;
  return async function process(job: Job): Promise<DeliveryResult> {
    const envelope = envelopeSchema.safeParse(job.data);
    if (!envelope.success) {
      throw new InvalidJobError(`job data is not a Herald job: ${envelope.error.issues.map((i) => i.message).join("; ")}`, "envelope");
    }
    const { kind, enqueuedAt } = envelope.data;

    let parsed: LooseJob;
    try {
      parsed = parseJob(kind, openEnvelope(envelope.data, deps.key));
    } catch (error) {
      if (error instanceof DecryptError) throw new InvalidJobError(scrub(error.message), "decrypt");
      if (error instanceof ValidationError) throw new InvalidJobError(scrub(error.message), "contract");
      throw error;
    }
    const channel = channelOf(kind, parsed);
    if (channel !== queueChannel) {
      throw new InvalidJobError(`a ${kind} job for the ${channel} channel was put on the ${queueChannel} queue`, "wrong-queue");
    }
    if (parsed.expiresAt && Date.parse(parsed.expiresAt) <= now()) {
      throw new ExpiredJobError(`the code expired at ${parsed.expiresAt} before it could be delivered; not sent`);
    }

    const secrets = [parsed.code, parsed.codeId, parsed.url, parsed.urlTemplate, parsed.recipient.email, parsed.recipient.phone];
    const provider = channel === "email" ? deps.email : deps.sms;
    const address = channel === "email" ? parsed.recipient.email! : parsed.recipient.phone!;
    // Both look-ups at once: one wait for Redis instead of two in a row (each is one command). The guard's
    // answer comes first, as when they ran in turn: its refusal is final even if the other look-up failed.
    const [guard, listed] = await Promise.allSettled([
      channel === "sms" ? deps.limits?.refusalOfQueued(kind, address) : undefined,
      deps.suppressions?.entryOf(address),
    ]);
    if (guard.status === "rejected") throw guard.reason;
    if (guard.value) throw new PermanentDeliveryError(`not sent: ${guard.value}`, "sms-guard");
    if (listed.status === "rejected") throw listed.reason;
    const suppressed = listed.value;
    if (suppressed) {
      throw new SuppressedError(
        `not sent: the recipient is on the suppression list since ${suppressed.at} (${suppressed.source}${suppressed.code ? ` ${suppressed.code}` : ""}${suppressed.kind ? ` on ${suppressed.kind}` : ""}); remove the entry (herald suppressions remove) and replay to send`,
      );
    }

    const tracing = deps.tracing ?? false;
    const attributes = { "herald.kind": kind, "herald.channel": channel, "herald.notification_id": String(job.id) };
    const { send, locale } = await inSpan(tracing, "herald.render", attributes, async () => {
      try {
        const link = resolveLink(parsed);
        if (channel === "email") {
          const mail = deps.renderer.email({ kind, job: parsed, link, now: now() });
          const to = { address: parsed.recipient.email!, name: parsed.recipient.displayName };
          const meta = { kind, locale: mail.locale, tenant: parsed.tenant?.id, jobId: job.id };
          return { locale: mail.locale, send: () => deps.email.send({ to, from: mail.from, subject: mail.subject, html: mail.html, text: mail.text, meta }) };
        }
        const sms = deps.renderer.sms({ kind, job: parsed, now: now() });
        const meta = { kind, locale: sms.locale, tenant: parsed.tenant?.id, jobId: job.id };
        return { locale: sms.locale, send: () => deps.sms.send({ to: parsed.recipient.phone!, body: sms.body, meta }) };
      } catch (error) {
        // A template that cannot render this job will not render it on the next try either.
        throw new PermanentDeliveryError(`rendering failed: ${scrub((error as Error).message, secrets)}`, "render");
      }
    });

    let receipt: Receipt;
    try {
      // The provider call, as a client span: the SMTP transaction or HTTP request to the provider.
      receipt = await inSpan(tracing, "herald.send", { ...attributes, "herald.provider": provider.provider }, send, true);
    } catch (error) {
      const { permanent, code, hardBounce } = provider.classify(error);
      const message = `${provider.provider}: ${scrub((error as Error)?.message ?? String(error), secrets)}`;
      if (permanent && hardBounce && deps.suppressions) {
        // Best effort: the dead letter records the bounce whether or not the entry could be written.
        await deps.suppressions.add(address, { source: "bounce", reason: message, code, kind, channel }).catch(() => undefined);
      }
      throw permanent ? new PermanentDeliveryError(message, code) : new TransientDeliveryError(message, code);
    }
    await deps.onAccepted?.({ job, receipt, channel, kind, tenant: parsed.tenant?.id, enqueuedAt, recipient: address }).catch(() => {});
    return { ...receipt, channel, kind, locale, enqueuedAt };
  };
}
