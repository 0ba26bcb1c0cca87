import { randomUUID } from "node:crypto";
import type Mail from "nodemailer/lib/mailer/index.js";
import type { EmailMessage } from "./channel.js";

/** Display names reach a header: line breaks and control characters are flattened so nothing can be injected. */
function headerSafe(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
}

function domainOf(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  return match ? match[1] : "herald.invalid";
}

/** The nodemailer message both SMTP and the outbox send, so an outbox .eml is byte-for-byte what SMTP would carry. */
export function toMailOptions(message: EmailMessage, defaultFrom: string): Mail.Options & { messageId: string } {
  const from = message.from ?? defaultFrom;
  return {
    from,
    to: message.to.name ? { name: headerSafe(message.to.name), address: message.to.address } : message.to.address,
    subject: headerSafe(message.subject),
    text: message.text,
    html: message.html,
    messageId: `<${randomUUID()}@${domainOf(from)}>`,
    date: new Date(),
    headers: {
      // RFC 3834: tells autoresponders (out-of-office, ticket systems) not to answer.
      "Auto-Submitted": "auto-generated",
      "X-Auto-Response-Suppress": "All",
    },
  };
}
