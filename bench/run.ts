// Herald benchmarks. Each compares against a baseline measured in the same run and reports the ratio,
// since absolute times on shared machines are noise. Prints one JSON object. Needs Redis (REDIS_URL).
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import mjml2html from "mjml";
import { readFileSync } from "node:fs";
import { loadConfig } from "../src/config/index.js";
import { parseJob } from "../src/contracts/index.js";
import { createLogger } from "../src/logger.js";
import { Herald } from "../src/queues/producer.js";
import { createRenderer } from "../src/templates/renderer.js";
import { startWorkers } from "../src/workers/start.js";
import type { EmailProvider } from "../src/channels/provider.js";
import { deleteKeys } from "../test/support/herald.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const job = {
  recipient: { userId: "u1", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
  code: "K7Q-44P",
  url: "https://login.example.com/reset?code=K7Q-44P",
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
};

async function time(fn: () => Promise<unknown> | unknown, n: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - start) / n;
}

/** Rendering a job with the compiled-once templates vs. compiling MJML per job (what Herald avoids). */
async function renderBench() {
  console.error("bench: render");
  const renderer = await createRenderer();
  const parsed = parseJob("password-reset", job);
  const layout = readFileSync(new URL("../src/templates/layout.mjml", import.meta.url), "utf8");
  const body = readFileSync(new URL("../src/templates/kinds/password-reset.mjml", import.meta.url), "utf8");
  const source = layout.replace("<!-- herald:body -->", body);
  for (let i = 0; i < 200; i++) renderer.email({ kind: "password-reset", job: parsed, link: job.url });
  const compiledMs = await time(() => renderer.email({ kind: "password-reset", job: parsed, link: job.url }), 2000);
  const perJobMjmlMs = await time(() => mjml2html(source, { validationLevel: "skip" }), 30);
  return { renderMs: +compiledMs.toFixed(4), baselineMjmlPerJobMs: +perJobMjmlMs.toFixed(3), speedup: +(perJobMjmlMs / compiledMs).toFixed(1) };
}

/** enqueueBulk vs. one enqueue call per job. */
async function enqueueBench(redis: Redis) {
  console.error("bench: enqueue");
  const prefix = `{herald-bench-${randomUUID().slice(0, 8)}}`;
  // Throughput of the queue itself: one address many times would hit the resend limits at the sixth job.
  const herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: randomBytes(32), limits: false });
  const n = 500;
  const single = performance.now();
  for (let i = 0; i < n; i++) await herald.passwordReset(job);
  const singleMs = performance.now() - single;
  const bulk = performance.now();
  await herald.enqueueBulk(Array.from({ length: n }, () => ({ kind: "password-reset" as const, job })));
  const bulkMs = performance.now() - bulk;
  await herald.close();
  await deleteKeys(redis, prefix);
  return {
    jobs: n,
    singlePerSec: Math.round(n / (singleMs / 1000)),
    bulkPerSec: Math.round(n / (bulkMs / 1000)),
    bulkSpeedup: +(singleMs / bulkMs).toFixed(1),
  };
}

/** Whole pipeline (validate, decrypt, render, send to a channel that takes 5 ms like a fast SMTP relay) at concurrency 1 vs 16. */
async function pipelineBench(redis: Redis) {
  console.error("bench: pipeline");
  const slowProvider: EmailProvider = {
    provider: "bench",
    async send() {
      await new Promise((r) => setTimeout(r, 5));
      return { provider: "bench", messageId: randomUUID(), acceptedAt: new Date().toISOString() };
    },
    classify: () => ({ permanent: false, code: "bench" }),
    async close() {},
  };
  const run = async (concurrency: number, n: number) => {
    const key = randomBytes(32).toString("base64");
    const prefix = `{herald-bench-${randomUUID().slice(0, 8)}}`;
    const config = loadConfig({ REDIS_URL, HERALD_PREFIX: prefix, HERALD_ENCRYPTION_KEY: key, LOG_LEVEL: "silent" });
    const herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key, limits: false });
    await herald.enqueueBulk(Array.from({ length: n }, () => ({ kind: "password-reset" as const, job })));
    const start = performance.now();
    const workers = await startWorkers({
      config,
      logger: createLogger({ level: "silent" }),
      channels: ["email"],
      concurrency: { email: concurrency },
      providers: { email: slowProvider, sms: undefined as never },
    });
    await new Promise<void>((resolve) => {
      let done = 0;
      workers.events.on("delivered", () => ++done === n && resolve());
    });
    const ms = performance.now() - start;
    await workers.close();
    await herald.close();
    await deleteKeys(redis, prefix);
    return Math.round(n / (ms / 1000));
  };
  const baseline = await run(1, 100);
  const concurrent = await run(16, 800);
  return { concurrency1PerSec: baseline, concurrency16PerSec: concurrent, speedup: +(concurrent / baseline).toFixed(1) };
}

const redis = new Redis(REDIS_URL);
const result = {
  node: process.version,
  render: await renderBench(),
  enqueue: await enqueueBench(redis),
  pipeline: await pipelineBench(redis),
};
redis.disconnect();
console.log(JSON.stringify(result, null, 2));
