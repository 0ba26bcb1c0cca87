import nodemailer from "nodemailer";
import type { EmailMessage } from "./provider.js";
import type { DkimOptions } from "../config/dkim.js";
import { toMailOptions } from "./mail-options.js";

const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "\r\n" });

export interface EmlOptions {
  /** Sign as the SMTP channel would (same signer, same headers), so a preview or outbox .eml verifies too. */
  dkim?: DkimOptions;
}

/** The complete RFC 5322 message nodemailer would send over SMTP, as bytes: for the outbox and previews. */
export async function buildEml(message: EmailMessage, defaultFrom: string, opts: EmlOptions = {}): Promise<{ raw: Buffer; messageId: string }> {
  const mail = toMailOptions(message, defaultFrom, { dkim: opts.dkim });
  const info = await builder.sendMail(mail);
  return { raw: info.message as Buffer, messageId: mail.messageId };
}
