import type { Provider } from "../channels/provider.js";
import type { Logger } from "../logger.js";
import { scrub } from "../redact.js";

export interface ProviderCheck {
  state: "checking" | "ok" | "failed";
  /** Why it failed (scrubbed), or what is being checked. */
  detail: string;
}

/**
 * Verifies a provider once at start (SMTP: connect, STARTTLS, log in) and logs a warning when it fails.
 * The result is a status for /readyz, never a reason to stop: jobs for a relay that is down wait and are
 * retried, and a pod restarted in a loop would not bring the relay back.
 */
export function checkProvider(channel: Provider<unknown>, logger: Logger, timeoutMs: number): ProviderCheck {
  const check: ProviderCheck = { state: "checking", detail: `checking ${channel.provider} (up to ${timeoutMs} ms)` };
  channel.verify!(timeoutMs).then(
    () => {
      check.state = "ok";
      check.detail = `${channel.provider} answered and accepted the login at start`;
      logger.info({ provider: channel.provider }, "provider check passed");
    },
    (error: Error & { code?: string }) => {
      check.state = "failed";
      check.detail = `${channel.provider} check at start failed: ${scrub(error.message)}${error.code ? ` (${error.code})` : ""}`;
      logger.warn(
        { provider: channel.provider, code: error.code, reason: scrub(error.message) },
        "provider check failed at start: mails will wait and be retried until it works; check the SMTP_* settings",
      );
    },
  );
  return check;
}
