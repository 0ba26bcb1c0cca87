const EMAIL = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// International numbers as providers quote them (`+15005550001`, `+41 79 123 45 67`); long bare digit runs too.
const PHONE = /\+\d[\d ().-]{5,}\d|\b\d{9,15}\b/g;
const URL = /\bhttps?:\/\/[^\s"'<>]+/gi;

/**
 * Masks personal data and secrets in free text (provider error messages often quote the address or number).
 * Known secret values are masked first, then anything shaped like an email, phone number or link.
 */
export function scrub(text: string, secrets: Iterable<string | undefined> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 3) out = out.split(secret).join("[secret]");
  }
  return out.replace(URL, "[link]").replace(EMAIL, "[email]").replace(PHONE, "[phone]");
}

const INTERNATIONAL_PHONE = /\+\d[\d ().-]{5,}\d/g;

/**
 * For identifiers a producer chose (idempotency keys): addresses, links and `+`-numbers are masked as in
 * scrub(), but bare digit runs are kept: there they are timestamps or counters (`reset-u1-20261128100000`),
 * and masking them makes keys unreadable and indistinguishable.
 */
export function scrubIdentifier(text: string): string {
  return text.replace(URL, "[link]").replace(EMAIL, "[email]").replace(INTERNATIONAL_PHONE, "[phone]");
}

const SENSITIVE = ["email", "phone", "code", "codeId", "url", "urlTemplate", "link", "to", "body", "html", "text", "sealed"];

/** pino `redact` paths: the sensitive field names at the top level and up to three levels down. */
export const REDACT_PATHS = SENSITIVE.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);
