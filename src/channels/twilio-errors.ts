import { type Classified, classifyOther } from "./provider.js";

/** Problems with our side (the sender, a full queue): fixed by ops or by waiting, so the message waits too. */
const TWILIO_TRANSIENT = new Set([
  21606, // 'From' number is not a valid SMS-capable number
  21659, // 'From' is not a valid Twilio number
  21212, // invalid 'From' number
  21611, // the sender's message queue is full
]);

/** Twilio error codes that no retry can fix: bad or unreachable numbers, opt-outs, blocked regions. */
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

/**
 * Permanent errors about the number itself, which put it on the suppression list: 21610 (the recipient
 * replied STOP), 21614 and 21635 (not a mobile number: a landline), 30005 (unknown handset: the number is
 * not in service), 30006 (landline or unreachable carrier). Not 30003 (handset switched off or out of
 * coverage: it will be reachable again), nor 30004/30007 (this message was blocked or filtered, not the number).
 */
const TWILIO_HARD_BOUNCE = new Set([21610, 21614, 21635, 30005, 30006]);

/**
 * Permanent only where Twilio says so unmistakably. Authentication and permission errors (401/403/404)
 * are set-up problems and wait for the fix; 429 and 5xx pass with time.
 */
export function classifyTwilioError(error: unknown): Classified {
  const e = (error ?? {}) as { code?: string | number; status?: number };
  if (typeof e.code !== "number" && typeof e.status !== "number") return classifyOther(error, "twilio-error");
  const code = typeof e.code === "number" ? `twilio-${e.code}` : `twilio-http-${e.status}`;
  if (typeof e.code === "number" && TWILIO_TRANSIENT.has(e.code)) return { permanent: false, code };
  if (typeof e.code === "number" && TWILIO_PERMANENT.has(e.code))
    return { permanent: true, code, ...(TWILIO_HARD_BOUNCE.has(e.code) ? { hardBounce: true } : {}) };
  // Any other 400 is a request Twilio will refuse again.
  return { permanent: e.status === 400, code };
}

/**
 * Whether a Twilio error code (an API error, or a status callback's ErrorCode) means the number will never
 * take a message: the same hard bounces that put a number on the suppression list at send time.
 */
export function isHardBounceTwilioCode(code: number): boolean {
  return TWILIO_HARD_BOUNCE.has(code);
}
