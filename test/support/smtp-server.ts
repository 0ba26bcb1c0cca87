import { EventEmitter, once } from "node:events";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpReply {
  code: number;
  message: string;
}

/**
 * A real SMTP server (smtp-server) on loopback, with scripted replies to DATA for retry tests:
 * `replyNext(code, message, n)` answers the next n messages with that code instead of accepting them.
 */
export interface SmtpTestServer {
  url: string;
  port: number;
  mails: ReceivedMail[];
  /** DATA attempts, accepted or not. */
  attempts: number;
  /** SMTP connections opened to this server so far. */
  connections: number;
  replyNext(reply: SmtpReply, times?: number): void;
  /** Every message to this address is refused with the reply. */
  rejectFor(address: string, reply: SmtpReply): void;
  /** Holds every DATA answer until release() is called (a server that hangs mid-delivery). */
  hold(): void;
  release(): void;
  /** Forgets held messages without answering them (their sender died mid-delivery). */
  dropHeld(): void;
  /** Resolves once a DATA command is being held (so a test knows a worker is mid-send). */
  waitForHeld(n?: number): Promise<void>;
  waitForMails(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpServer(): Promise<SmtpTestServer> {
  const mails: ReceivedMail[] = [];
  const scripted: SmtpReply[] = [];
  const rejections = new Map<string, SmtpReply>();
  let holding = false;
  const held: (() => void)[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(100);
  let attempts = 0;
  let connections = 0;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        attempts++;
        const answer = async () => {
          const to = session.envelope.rcptTo.map((r) => r.address);
          const reply = scripted.shift() ?? to.map((a) => rejections.get(a)).find(Boolean);
          if (reply) {
            const error = Object.assign(new Error(reply.message), { responseCode: reply.code });
            callback(error);
            events.emit("change");
            return;
          }
          const raw = Buffer.concat(chunks).toString("utf8");
          const parsed = await simpleParser(raw);
          mails.push({ envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "", to }, raw, parsed });
          callback(null, "2.0.0 queued");
          events.emit("change");
        };
        if (holding) {
          held.push(() => void answer());
          events.emit("held");
        } else void answer();
      });
    },
  });
  // A client reset mid-transaction (a killed worker) is an error event; unheard, it would end the test process.
  server.on("error", () => {});
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  const port = (server.server.address() as AddressInfo).port;

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    get attempts() {
      return attempts;
    },
    get connections() {
      return connections;
    },
    replyNext(reply, times = 1) {
      for (let i = 0; i < times; i++) scripted.push(reply);
    },
    rejectFor(address, reply) {
      rejections.set(address, reply);
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      held.splice(0).forEach((answer) => answer());
    },
    dropHeld() {
      holding = false;
      held.splice(0);
    },
    waitForHeld(n = 1) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (held.length >= n) {
            events.off("held", check);
            resolve();
          }
        };
        events.on("held", check);
        check();
      });
    },
    waitForMails(n, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off("change", check);
          reject(new Error(`waited ${timeoutMs} ms for ${n} mail(s), got ${mails.length}`));
        }, timeoutMs);
        const check = () => {
          if (mails.length >= n) {
            clearTimeout(timer);
            events.off("change", check);
            resolve(mails.slice(0, n));
          }
        };
        events.on("change", check);
        check();
      });
    },
    async close() {
      held.splice(0);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
