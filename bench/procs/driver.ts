// The benchmark's baselines, each in its own process (started by bench/run.ts with BENCH_DRIVER set):
//   smtp-small    raw pooled nodemailer, a small HTML mail
//   smtp-herald   raw pooled nodemailer, Herald's own password-reset mail (rendered once, sent N times)
//   bullmq-mjml   a hand-written BullMQ worker: MJML + Handlebars per job, pooled nodemailer
//   bullmq-floor  a BullMQ worker sending Herald's pre-rendered mail: the floor of "a queue in front"
//   twilio        the raw Twilio SDK, `inflight` requests at once
//   bullmq-twilio a BullMQ worker sending each job's SMS with the raw SDK: the floor of "a queue in front" for SMS
// Settings come as JSON in BENCH_DRIVER; the process exits when it has sent `n` (raw) or is told to stop.
import { readFileSync } from "node:fs";
import { Worker } from "bullmq";
import Handlebars from "handlebars";
import { Redis } from "ioredis";
import nodemailer from "nodemailer";
import { toMailOptions } from "../../src/channels/mail-options.js";
import { createTwilioClient } from "../../src/channels/twilio-client.js";
import { parseJob } from "../../src/contracts/index.js";
import { createRenderer } from "../../src/templates/renderer.js";

export interface DriverSettings {
  mode: "smtp-small" | "smtp-herald" | "bullmq-mjml" | "bullmq-floor" | "twilio" | "bullmq-twilio";
  n: number;
  /** Sends in flight (raw) or worker concurrency (BullMQ). */
  inflight: number;
  pool: number;
  smtpUrl?: string;
  twilio?: { url: string; accountSid: string; authToken: string };
  redisUrl?: string;
  queue?: string;
  prefix?: string;
  /** Tag the recipients so several drivers at once stay apart. */
  tag?: string;
}

const settings = JSON.parse(process.env.BENCH_DRIVER ?? "{}") as DriverSettings;
const FROM = "Acme ID <no-reply@acme.test>";

export const BENCH_JOB = {
  recipient: { userId: "u-1001", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
  code: "K7Q2M9",
  url: "https://login.acme.test/reset?code=K7Q2M9",
};

async function heraldMail() {
  const renderer = await createRenderer({ branding: { productName: "Acme ID" } });
  const job = parseJob("password-reset", { ...BENCH_JOB, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  return renderer.email({ kind: "password-reset", job, link: BENCH_JOB.url });
}

function transport() {
  return nodemailer.createTransport({ url: settings.smtpUrl, pool: true, maxConnections: settings.pool, maxMessages: Infinity });
}

/** Keeps `inflight` sends going until n are done. */
async function loop(n: number, inflight: number, send: (i: number) => Promise<unknown>) {
  let next = 0;
  const lane = async () => {
    while (next < n) await send(next++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

const small = {
  subject: "Your code",
  html: "<p>Hello Ada,</p><p>your code is <b>K7Q2M9</b>.</p>",
  text: "Hello Ada,\nyour code is K7Q2M9.\n",
};

/** Stays alive until told, so the orchestrator can read this process's CPU time after the last send. */
function waitForStop() {
  return new Promise<void>((done) => {
    process.on("message", (m) => m === "stop" && done());
    process.on("disconnect", () => done());
  });
}

async function main() {
  const { mode } = settings;
  if (mode === "smtp-small" || mode === "smtp-herald") {
    const mail = mode === "smtp-small" ? small : await heraldMail();
    const t = transport();
    await loop(settings.n, settings.inflight, (i) =>
      t.sendMail(
        toMailOptions({ to: { address: `${settings.tag ?? "raw"}-${i}@example.com` }, subject: mail.subject, html: mail.html, text: mail.text }, FROM),
      ),
    );
    t.close();
    return waitForStop();
  }
  if (mode === "twilio") {
    const tw = settings.twilio!;
    const client = createTwilioClient({ accountSid: tw.accountSid, authToken: tw.authToken, baseUrl: tw.url });
    await loop(settings.n, settings.inflight, () => client.messages.create({ to: "+14155550123", from: "+14155550100", body: "Dein Code: K7Q2M9" }));
    return waitForStop();
  }
  if (mode === "bullmq-twilio") {
    const tw = settings.twilio!;
    const client = createTwilioClient({ accountSid: tw.accountSid, authToken: tw.authToken, baseUrl: tw.url });
    const connection = new Redis(settings.redisUrl!, { maxRetriesPerRequest: null });
    const worker = new Worker(
      settings.queue!,
      async (job) => (await client.messages.create({ to: job.data.to, from: "+14155550100", body: job.data.body })).sid,
      { connection, prefix: settings.prefix, concurrency: settings.inflight, removeOnComplete: { count: 1000 } },
    );
    await waitForStop();
    await worker.close();
    connection.disconnect();
    return;
  }
  // The two BullMQ workers: the orchestrator queued the jobs (plain JSON, like a hand-written producer would).
  const t = transport();
  let render: (data: { email: string; name: string; code: string; url: string }) => Promise<{ subject: string; html: string; text: string }>;
  if (mode === "bullmq-floor") {
    const mail = await heraldMail();
    render = async () => mail;
  } else {
    const { default: mjml2html } = await import("mjml");
    const layout = readFileSync(new URL("../../src/templates/layout.mjml", import.meta.url), "utf8");
    const body = readFileSync(new URL("../../src/templates/kinds/password-reset.mjml", import.meta.url), "utf8");
    const en = JSON.parse(readFileSync(new URL("../../src/templates/messages/en.json", import.meta.url), "utf8"));
    const texts = { ...en.common, ...en["password-reset"] };
    const template = Handlebars.compile(layout.replace("<!-- herald:body -->", body));
    // What a hand-written worker does: fill in the MJML, compile it to HTML, derive nothing else.
    render = async (data) => {
      const vars = { name: data.name, productName: "Acme ID", code: data.code, expiry: "1 hour" };
      const t: Record<string, string> = {};
      for (const [key, value] of Object.entries(texts)) t[key] = Handlebars.compile(String(value))(vars);
      const source = template({ lang: "en", dir: "ltr", align: "left", t, code: data.code, link: data.url, brand: { productName: "Acme ID" } });
      const html = (await mjml2html(source, { validationLevel: "skip", fonts: {} })).html;
      return { subject: t.subject ?? "Reset", html, text: `${t.intro ?? ""}\n${data.url}\n` };
    };
  }
  const connection = new Redis(settings.redisUrl!, { maxRetriesPerRequest: null });
  const worker = new Worker(
    settings.queue!,
    async (job) => {
      const mail = await render(job.data);
      return (await t.sendMail(toMailOptions({ to: { address: job.data.email }, subject: mail.subject, html: mail.html, text: mail.text }, FROM))).messageId;
    },
    { connection, prefix: settings.prefix, concurrency: settings.inflight, removeOnComplete: { count: 1000 } },
  );
  await waitForStop();
  await worker.close();
  connection.disconnect();
  t.close();
}

await main();
process.exit(0);
