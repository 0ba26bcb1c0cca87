/** Twilio error codes that no retry can fix: bad or unreachable numbers, opt-outs, blocked regions. */
/** Problems with our side (the sender, a full queue): fixed by ops or by waiting, so the message waits too. */
const TWILIO_TRANSIENT = new Set([
  21606, // 'From' number is not a valid SMS-capable number
  21659, // 'From' is not a valid Twilio number
  21212, // invalid 'From' number
  21611, // the sender's message queue is full
]);

const TWILIO_PERMANENT = new Set([
  21211, // invalid 'To' number
  21214, // 'To' number cannot be reached
  21217, // phone number does not appear to be valid
  21408, // permission to send to this region not enabled
  21610, // recipient has opted out (STOP)
  21612, // cannot route to this number
  21614, // 'To' is not a mobile number
  21635, // 'To' number cannot be a landline
  21602, // message body required
  21617, // message body too long
  30003, // unreachable destination handset
  30004, // message blocked
  30005, // unknown destination handset
  30006, // landline or unreachable carrier
  30007, // filtered as spam by the carrier
]);

export interface Classified {
  permanent: boolean;
  /** Provider code as a string, e.g. `smtp-550`, `twilio-21211`, `ECONNREFUSED`. */
  code: string;
}

interface ProviderError {
  code?: string | number;
  responseCode?: number;
  status?: number;
}

/**
 * Permanent only where the provider says so unmistakably. Authentication and permission errors are
 * transient on purpose: they are configuration problems, and mail should wait for the fix rather
 * than pour into the dead-letter queue.
 */
export function classifyDeliveryError(provider: string, error: unknown): Classified {
  const e = (error ?? {}) as ProviderError;
  if (provider === "smtp" || provider === "outbox") {
    if (typeof e.responseCode === "number") {
      // ETLS: the relay offers no STARTTLS while SMTP_REQUIRE_TLS is on; its "500" is about us, not the recipient.
      const permanent = e.responseCode >= 500 && e.code !== "EAUTH" && e.code !== "ETLS" && e.responseCode !== 530 && e.responseCode !== 535;
      return { permanent, code: `smtp-${e.responseCode}` };
    }
    return { permanent: false, code: String(e.code ?? "smtp-error") };
  }
  if (provider === "twilio") {
    const code = typeof e.code === "number" ? `twilio-${e.code}` : `twilio-http-${e.status}`;
    if (typeof e.code === "number" && TWILIO_TRANSIENT.has(e.code)) return { permanent: false, code };
    if (typeof e.code === "number" && TWILIO_PERMANENT.has(e.code)) return { permanent: true, code };
    // Any other 400 is a request Twilio will refuse again; 401/403/404 are set-up problems, 429 and 5xx pass.
    if (e.status === 400) return { permanent: true, code };
    if (typeof e.status === "number") return { permanent: false, code };
    return { permanent: false, code: String(e.code ?? "twilio-error") };
  }
  return { permanent: false, code: String(e.code ?? "error") };
}
