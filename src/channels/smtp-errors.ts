import { type Classified, classifyOther } from "./provider.js";

/**
 * SMTP replies: 5xx is permanent, except where the 5xx is about us rather than the recipient —
 * authentication (530, 535, EAUTH) and a relay without STARTTLS while SMTP_REQUIRE_TLS is on (ETLS).
 * Those are configuration problems: mail waits for the fix instead of pouring into the dead letters.
 */
export function classifySmtpError(error: unknown): Classified {
  const e = (error ?? {}) as { code?: string; responseCode?: number; response?: string; message?: string };
  if (typeof e.responseCode !== "number") return classifyOther(error, "smtp-error");
  const aboutUs = e.code === "EAUTH" || e.code === "ETLS" || e.responseCode === 530 || e.responseCode === 535;
  const permanent = e.responseCode >= 500 && !aboutUs;
  return {
    permanent,
    code: `smtp-${e.responseCode}`,
    ...(permanent && isHardBounce(e.responseCode, e.response ?? e.message ?? "") ? { hardBounce: true } : {}),
  };
}

/** Enhanced status codes about the recipient's address (RFC 3463 X.1.Y) — except 5.1.7/5.1.8, which are about the sender. */
const RECIPIENT_ADDRESS_STATUS = /\b5\.1\.(\d{1,3})\b/;

/**
 * A hard bounce: the mailbox does not exist or cannot exist. 550/551/553 with an address status
 * (5.1.1 no such user, 5.1.2 no such domain, 5.1.3 bad address, 5.1.6 moved, 5.1.10 null MX), or with
 * no enhanced status at all; any 5xx with a recipient address status. A 550 5.7.1 (policy, spam) is a
 * refusal of this message, not of the address: it is permanent but does not suppress.
 */
export function isHardBounce(responseCode: number, response: string): boolean {
  const status = RECIPIENT_ADDRESS_STATUS.exec(response);
  if (status) return status[1] !== "7" && status[1] !== "8";
  if (/\b[245]\.\d{1,3}\.\d{1,3}\b/.test(response)) return false;
  return responseCode === 550 || responseCode === 551 || responseCode === 553;
}
