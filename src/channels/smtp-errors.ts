import { type Classified, classifyOther } from "./provider.js";

/**
 * SMTP replies: 5xx is permanent, except where the 5xx is about us rather than the recipient —
 * authentication (530, 535, EAUTH) and a relay without STARTTLS while SMTP_REQUIRE_TLS is on (ETLS).
 * Those are configuration problems: mail waits for the fix instead of pouring into the dead letters.
 */
export function classifySmtpError(error: unknown): Classified {
  const e = (error ?? {}) as { code?: string; responseCode?: number };
  if (typeof e.responseCode !== "number") return classifyOther(error, "smtp-error");
  const aboutUs = e.code === "EAUTH" || e.code === "ETLS" || e.responseCode === 530 || e.responseCode === 535;
  return { permanent: e.responseCode >= 500 && !aboutUs, code: `smtp-${e.responseCode}` };
}
