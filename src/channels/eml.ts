import nodemailer from "nodemailer";
import type { EmailMessage } from "./channel.js";
import { toMailOptions } from "./mail-options.js";

const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "\r\n" });

/** The complete RFC 5322 message nodemailer would send over SMTP, as bytes: for the outbox and previews. */
export async function buildEml(message: EmailMessage, defaultFrom: string): Promise<{ raw: Buffer; messageId: string }> {
  const mail = toMailOptions(message, defaultFrom);
  const info = await builder.sendMail(mail);
  return { raw: info.message as Buffer, messageId: mail.messageId };
}
