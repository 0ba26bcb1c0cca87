// Herald's own work per job, step by step, in CPU microseconds (each step alone, in a loop: a step that waits
// for Redis pays a whole round trip's wake-up here, which a busy worker shares among the jobs in flight): what a Herald worker does on top of what a bare
// BullMQ worker sending the same message does (the "queue floor" rows of `npm run bench`). Prints one JSON
// object. With the floor's and the raw sender's CPU per message from `npm run bench`, it bounds the ratio any
// worker doing this work per job can reach on this machine (docs/performance.md, "Budget").
//
//   npx tsx bench/steps.ts            # needs redis-server on the PATH (a private one is started)
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { parseJob, resolveLink, type KindName, type LooseJob } from "../src/contracts/index.js";
import { toMailOptions } from "../src/channels/mail-options.js";
import { envelopeSchema, openEnvelope, toEnvelope } from "../src/queues/envelope.js";
import { DEFAULT_LIMITS, Limits } from "../src/queues/limits.js";
import { Suppressions } from "../src/queues/suppressions.js";
import { createRenderer } from "../src/templates/renderer.js";
import { startRedisServer } from "../test/support/redis-server.js";

const ROUNDS = 5;
const key = randomBytes(32);
const expiresAt = () => new Date(Date.now() + 3_600_000).toISOString();
const EMAIL = {
  recipient: { userId: "u-1001", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
  code: "K7Q2M9",
  url: "https://login.acme.test/reset?code=K7Q2M9",
};
const SMS = { recipient: { userId: "u-1002", phone: "+41791234567", locale: "de-CH" }, code: "482913" };

/** CPU µs per call (user + system of this process), median of ROUNDS rounds after a warm-up round. */
async function cpuMicros(n: number, step: () => unknown): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await step();
    const used = process.cpuUsage(before);
    if (r > 0) rounds.push((used.user + used.system) / n);
  }
  rounds.sort((a, b) => a - b);
  return Math.round(rounds[Math.floor(rounds.length / 2)]! * 10) / 10;
}

const server = await startRedisServer({ appendOnly: false });
const redis = new Redis(server.url, { maxRetriesPerRequest: null });
const renderer = await createRenderer({ branding: { productName: "Acme ID" } });
const suppressions = new Suppressions(redis, "{bench}", key);
const limits = new Limits(redis, "{bench}", key, { policy: DEFAULT_LIMITS });
const devNull = pino({ level: "info" }, pino.destination({ dest: "/dev/null", sync: true }));

async function stepsOf(kind: KindName, input: Record<string, unknown>) {
  const job = parseJob(kind, { ...input, expiresAt: expiresAt() }) as LooseJob;
  // What BullMQ hands the worker: the envelope as stored (JSON), parsed again.
  const stored = JSON.parse(JSON.stringify(toEnvelope(kind, job, key))) as unknown;
  const envelope = envelopeSchema.parse(stored);
  const address = job.recipient.email ?? job.recipient.phone!;
  const steps: Record<string, number> = {
    "envelope check": await cpuMicros(20_000, () => envelopeSchema.safeParse(stored)),
    decrypt: await cpuMicros(20_000, () => openEnvelope(envelope, key)),
    "validate (zod contract)":
      (await cpuMicros(20_000, () => parseJob(kind, openEnvelope(envelope, key)))) - (await cpuMicros(20_000, () => openEnvelope(envelope, key))),
    "suppression look-up (one Redis GET)": await cpuMicros(5_000, () => suppressions.entryOf(address)),
    render:
      kind === "phone-verification"
        ? await cpuMicros(20_000, () => renderer.sms({ kind, job, now: Date.now() }))
        : await cpuMicros(5_000, () => renderer.email({ kind, job, link: resolveLink(job), now: Date.now() })),
    "per-job log line": await cpuMicros(20_000, () =>
      devNull.info({ jobId: "123", kind, provider: "smtp", messageId: "<x@acme.test>", attempts: 0 }, "delivered"),
    ),
  };
  if (kind === "phone-verification") {
    // The SMS guard's second look (limits on, the default): the number's type from the full metadata, and its country's breaker (one PTTL).
    steps["SMS guard (number type + breaker, one Redis PTTL)"] = await cpuMicros(5_000, () => limits.refusalOfQueued(kind, address));
  }
  if (kind !== "phone-verification") {
    steps["mail options"] = await cpuMicros(20_000, () => toMailOptions({ to: { address }, subject: "s", html: "h", text: "t" }, "Acme <a@acme.test>"));
  }
  const total = Math.round(Object.values(steps).reduce((a, b) => a + b, 0) * 10) / 10;
  return { steps, totalMicros: total };
}

const result = {
  machine: { node: process.version },
  rounds: ROUNDS,
  email: await stepsOf("password-reset", EMAIL),
  sms: await stepsOf("phone-verification", SMS),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
redis.disconnect();
await server.stop();
