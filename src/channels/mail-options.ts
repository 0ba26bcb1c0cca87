import { randomUUID } from "node:crypto";
import type Mail from "nodemailer/lib/mailer/index.js";
import type { EmailMessage } from "./provider.js";
import type { DkimOptions } from "../config/dkim.js";

/** Display names reach a header: line breaks and control characters are flattened so nothing can be injected. */
function headerSafe(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
}

function domainOf(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  return match?.[1] ?? "herald.invalid";
}

export interface MailOptionsSettings {
  /** Sign with DKIM (nodemailer's signer), so SMTP and the outbox carry the same signed bytes. */
  dkim?: DkimOptions;
}

/**
 * The nodemailer message both SMTP and the outbox send, so an outbox .eml is byte-for-byte what SMTP would carry.
 *
 * Transactional mail, deliberately: no `List-Unsubscribe` or `Precedence: bulk` (those mark bulk mail), and
 * `Auto-Submitted: auto-generated` so autoresponders stay quiet. Both parts go out as multipart/alternative;
 * nodemailer encodes bodies (quoted-printable or base64) and folds headers, so no line exceeds 998 octets.
 */
export function toMailOptions(message: EmailMessage, defaultFrom: string, settings: MailOptionsSettings = {}): Mail.Options & { messageId: string } {
  const from = message.from ?? defaultFrom;
  return {
    from,
    to: message.to.name ? { name: headerSafe(message.to.name), address: message.to.address } : message.to.address,
    subject: headerSafe(message.subject),
    text: message.text,
    // Quoted-printable, said rather than detected: nodemailer would otherwise scan the whole HTML part twice
    // per mail to choose (≈6 % of a worker's CPU) and pick quoted-printable anyway for markup (mostly ASCII).
    html: { content: message.html, contentTransferEncoding: "quoted-printable" },
    messageId: `<${randomUUID()}@${domainOf(from)}>`,
    date: new Date(),
    headers: {
      // RFC 3834: tells autoresponders (out-of-office, ticket systems) not to answer.
      "Auto-Submitted": "auto-generated",
      "X-Auto-Response-Suppress": "All",
    },
    ...(settings.dkim ? { dkim: { ...settings.dkim } } : {}),
  };
}
