import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Queue } from "bullmq";
import Handlebars from "handlebars";
import { expect } from "vitest";
import { DELIVERY_QUEUES } from "../../../src/queues/names.js";
import { startApiHarness, type ApiHarness } from "../../support/harness.js";
import { startSmtpServer, type ReceivedMail, type SmtpTestServer } from "../../support/smtp-server.js";
import { startTwilioServer, type Message, type TwilioServer, twilioEnv } from "../../support/twilio-server.js";

/** The HTTP server with real workers, a real SMTP server and the Twilio test server; the adapter's secret in httpEnv. */
export interface AdapterRig {
  h: ApiHarness;
  smtp: SmtpTestServer;
  twilio: TwilioServer;
  /** Jobs in the delivery queues, in any state (delivered ones are kept). */
  jobCount(): Promise<number>;
  /** The next mail to `address` (waits for it), checked for the kind's subject in `locale`. */
  mailTo(address: string, kind: string, locale: string, vars?: Record<string, unknown>): Promise<ReceivedMail>;
  /** The next mails, one to each address (in any order), each checked as mailTo does. */
  mailsTo(addresses: string[], kind: string, locale: string): Promise<ReceivedMail[]>;
  /** The next SMS to `phone`, checked for the kind's text in `locale` and the code. */
  smsTo(phone: string, kind: string, locale: string, code: string): Promise<Message>;
  close(): Promise<void>;
}

const MESSAGES = resolve(import.meta.dirname, "../../../src/templates/messages");
const texts = (locale: string) => JSON.parse(readFileSync(resolve(MESSAGES, `${locale}.json`), "utf8")) as Record<string, Record<string, string>>;

/** A kind's subject as Herald renders it in `locale` (default product name). */
export function subjectOf(kind: string, locale: string, vars: Record<string, unknown> = {}): string {
  const source = texts(locale)[kind]?.subject;
  if (!source) throw new Error(`no subject for ${kind} in ${locale}`);
  return Handlebars.compile(source, { noEscape: true })({ productName: "Herald", ...vars });
}

/** The start of a kind's SMS in `locale`, up to its first condition. */
function smsStart(kind: string, locale: string, code: string): string {
  const source = texts(locale)[kind]?.sms;
  if (!source) throw new Error(`no SMS text for ${kind} in ${locale}`);
  return Handlebars.compile(source.split("{{#if")[0]!, { noEscape: true })({ productName: "Herald", code });
}

/** The mail's HTML or text carries the link (HTML-escaped in the HTML). */
export function expectLink(mail: ReceivedMail, url: string): void {
  const html = String(mail.parsed.html || "");
  expect(html.includes(url.replace(/&/g, "&amp;")) || String(mail.parsed.text ?? "").includes(url), `link ${url}`).toBe(true);
}

export async function startAdapterRig(httpEnv: Record<string, string>, env: Record<string, string> = {}): Promise<AdapterRig> {
  const smtp = await startSmtpServer();
  const twilio = await startTwilioServer();
  const h = await startApiHarness({
    env: {
      SMTP_URL: smtp.url,
      SMTP_FROM: "Acme ID <no-reply@acme.test>",
      ...twilioEnv(twilio),
      ...env,
    },
    httpEnv,
  });
  const queues = DELIVERY_QUEUES.map((name) => new Queue(name, { connection: h.redis, prefix: h.config.HERALD_PREFIX }));
  let mailsSeen = 0;
  const mailsTo = async (addresses: string[], kind: string, locale: string, vars?: Record<string, unknown>) => {
    const mails = await smtp.waitForMails(mailsSeen + addresses.length);
    mailsSeen += addresses.length;
    return addresses.map((address) => {
      const mail = mails.findLast((m) => m.envelope.to.includes(address));
      expect(mail, `a mail to ${address}`).toBeDefined();
      expect(mail!.parsed.subject).toBe(subjectOf(kind, locale, vars));
      expect(String(mail!.parsed.html)).toContain(`lang="${locale}"`);
      return mail!;
    });
  };
  let smsSeen = 0;
  return {
    h,
    smtp,
    twilio,
    async jobCount() {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts()));
      return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
    },
    async mailTo(address, kind, locale, vars) {
      return (await mailsTo([address], kind, locale, vars))[0]!;
    },
    mailsTo: (addresses, kind, locale) => mailsTo(addresses, kind, locale),
    async smsTo(phone, kind, locale, code) {
      const messages = await twilio.waitForMessages(smsSeen + 1);
      smsSeen++;
      const sms = messages.findLast((m) => m.To === phone);
      expect(sms, `an SMS to ${phone}`).toBeDefined();
      expect(sms!.Body?.startsWith(smsStart(kind, locale, code)), `"${sms!.Body}" in ${locale}`).toBe(true);
      return sms!;
    },
    async close() {
      await Promise.all(queues.map((q) => q.close()));
      await h.close();
      await twilio.close();
      await smtp.close();
    },
  };
}
