import { scrub, scrubIdentifier } from "../redact.js";

/**
 * Keys whose values are never shown: addresses, names, secrets (sealed or not) and message text.
 * `data` is not here: a dead letter's nested `data` is the original envelope and is masked the same way.
 */
const MASKED_KEYS = new Set([
  "email",
  "phone",
  "to",
  "sealed",
  "code",
  "codeId",
  "url",
  "urlTemplate",
  "link",
  "body",
  "html",
  "text",
  "displayName",
  "firstName",
  "lastName",
  "loginName",
]);

/** Values that are safe as they are though they may look like an address (SMTP message ids do). */
const KEPT_KEYS = new Set(["messageId"]);

/** Identifiers the producer chose: their digits are kept (see scrubIdentifier). */
const IDENTIFIER_KEYS = new Set(["idempotencyKey"]);

export const MASK = "[redacted]";

/**
 * A deep copy with personal data and secrets masked, for Bull Board's data and return-value views:
 * sensitive keys are replaced, every other string is scrubbed of anything shaped like an email
 * address, phone number or link.
 */
export function maskForDisplay(value: unknown, depth = 0): unknown {
  if (depth > 20) return MASK;
  if (typeof value === "string") return scrub(value);
  if (Array.isArray(value)) return value.map((v) => maskForDisplay(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (MASKED_KEYS.has(key) && v !== undefined && v !== null) out[key] = MASK;
      else if (KEPT_KEYS.has(key)) out[key] = v;
      else if (IDENTIFIER_KEYS.has(key) && typeof v === "string") out[key] = scrubIdentifier(v);
      else out[key] = maskForDisplay(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** A dead letter for display: its `code` is the provider's error code (kept), its `data` the masked envelope. */
export function maskDeadLetterForDisplay(value: unknown): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return maskForDisplay(value);
  const { code, ...rest } = value as Record<string, unknown>;
  const masked = maskForDisplay(rest) as Record<string, unknown>;
  return typeof code === "string" ? { ...masked, code: scrub(code) } : masked;
}
