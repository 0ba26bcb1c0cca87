// Herald's benchmark: Herald side by side with what it competes against, in one run, on this machine.
// Prints one JSON object (progress goes to stderr). Needs redis-server on the PATH (a private one is
// started, so INFO commandstats counts only the benchmark) and, unless --no-build, builds dist/ first.
//
//   npm run bench                       # a few minutes: every row once per repeat (3), medians
//   npm run bench -- --n 5000 --repeats 5
//   npm run bench -- --long 100000      # RSS over a 100k-job run (default 20k)
//   npm run bench -- --sweep            # Herald email over concurrency × pool (slow)
//   npm run bench -- --only email       # or sms, latency, startup, long
//
// Every throughput is measured at the receiving end (the SMTP sink / Twilio server timestamps its first and
// last accepted message), so start-up is not counted. CPU is read from /proc for the sending process tree.
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { loadConfig } from "../src/config/index.js";
import { Herald } from "../src/queues/producer.js";
import { startRedisServer } from "../test/support/redis-server.js";
import type { DriverSettings } from "./procs/driver.js";
import { cpuMs, rssMb } from "./procs/os.js";

const ROOT = resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "3000" },
    "sms-n": { type: "string", default: "4000" },
    repeats: { type: "string", default: "3" },
    long: { type: "string", default: "20000" },
    "latency-s": { type: "string", default: "20" },
    "latency-warmup-s": { type: "string", default: "3" },
    /** Mails per second for the latency part; default half of Herald's rate measured in the same run. */
    "latency-rate": { type: "string" },
    /** 0: no queue-floor latency run next to Herald's. */
    "latency-floor": { type: "string", default: "1" },
    sweep: { type: "boolean", default: false },
    "sweep-concurrency": { type: "string", default: "10,25,50,100,200" },
    "sweep-pool": { type: "string", default: "5,10,20" },
    "sweep-processes": { type: "string", default: "1" },
    "sms-sweep": { type: "string" },
    only: { type: "string", multiple: true },
    "no-build": { type: "boolean", default: false },
    concurrency: { type: "string" },
    pool: { type: "string" },
    processes: { type: "string" },
    /** Also run Herald email with `herald worker --processes N` as its own row (0: not). */
    "processes-row": { type: "string", default: "2" },
    "sms-concurrency": { type: "string" },
    /** Also run this checkout's `herald worker` (its dist/ built) as a row, e.g. the code before a change. */
    "baseline-root": { type: "string" },
    /** The SMTP sink answers each mail after this many ms (a relay across a network); default 0. */
    "sink-delay-ms": { type: "string", default: "0" },
    /** NODE_OPTIONS for every `herald worker`, e.g. "--max-old-space-size=96". */
    "node-options": { type: "string" },
    /** KEY=VALUE for every `herald worker` the benchmark starts, e.g. --env HERALD_HEAP_GROWING_PERCENT=0 (repeatable). */
    env: { type: "string", multiple: true },
    /** Write a CPU profile of every `herald worker` into this folder (node --cpu-prof). */
    profile: { type: "string" },
  },
});
const N = Number(args.n);
const SMS_N = Number(args["sms-n"]);
const REPEATS = Number(args.repeats);
const wants = (part: string) => !args.only || args.only.includes(part);
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------------------
// Processes

interface Sink {
  child: ChildProcess;
  url: string;
  accountSid?: string;
  authToken?: string;
  stats(): Promise<{ count: number; first: number; last: number }>;
  request<T>(message: string): Promise<T>;
}

async function startSink(script: string): Promise<Sink> {
  const child = fork(resolve(ROOT, script), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, BENCH_SINK_DELAY_MS: args["sink-delay-ms"] },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [hello] = (await once(child, "message")) as [{ url: string; accountSid?: string; authToken?: string }];
  const request = async <T>(message: string): Promise<T> => {
    const answer = once(child, "message");
    child.send(message);
    return (await answer)[0] as T;
  };
  return { child, stats: () => request("stats"), request, ...hello };
}

const tsxArgs = ["--import", "tsx"];

function driver(settings: DriverSettings): ChildProcess {
  return spawn(process.execPath, [...tsxArgs, resolve(ROOT, "bench/procs/driver.ts")], {
    cwd: ROOT,
    env: { ...process.env, BENCH_DRIVER: JSON.stringify(settings) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** `--env KEY=VALUE`, given to every `herald worker` last (so it overrides the benchmark's own settings). */
const extraEnv: Record<string, string> = Object.fromEntries(
  (args.env ?? []).map((pair) => {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`--env ${pair}: expected KEY=VALUE`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);

/** `herald worker` as a user runs it: the built CLI (dist/) unless told to use tsx. */
function heraldWorker(env: Record<string, string>, extraArgs: string[] = [], useTsx = false, root = ROOT): ChildProcess {
  const entry = useTsx ? [...tsxArgs, resolve(root, "src/cli/main.ts")] : [resolve(root, "bin/herald.js")];
  const nodeArgs = args.profile ? ["--cpu-prof", "--cpu-prof-dir", resolve(args.profile)] : [];
  return spawn(process.execPath, [...nodeArgs, ...entry, "worker", ...extraArgs], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...(args["node-options"] ? { NODE_OPTIONS: args["node-options"] } : {}),
      ...env,
      ...extraEnv,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

function waitForLine(child: ChildProcess, text: string, timeoutMs = 60_000): Promise<number> {
  return new Promise((done, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`no "${text}" within ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk;
      if (seen.includes(text)) {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        child.stderr!.resume();
        done(now());
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code) => fail(new Error(`exited with ${code} before "${text}":\n${seen}`)));
  });
}

async function resetSink(sink: Sink): Promise<0> {
  await sink.request("reset");
  return 0;
}

async function stopDriver(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.send("stop");
  await exited;
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// Measuring a drain

interface Drain {
  perSec: number;
  cpuMsPerMsg: number;
  /** CPU use of the sink and of Redis during the drain, in % of one core. */
  sinkCpuPct: number;
  redisCpuPct: number;
  senderCpuPct: number;
  rssMb: { start: number; peak: number; end: number };
  rssTrend: number[];
}

/** Waits until the sink has `n` more messages than at `base`, sampling CPU and RSS of the senders. */
async function drain(sink: Sink, senders: number[], n: number, base: number, redisPid: number, timeoutMs = 30 * 60_000): Promise<Drain> {
  if (base !== 0) throw new Error("drain: reset the sink first");
  const deadline = Date.now() + timeoutMs;
  let started: { t: number; cpu: number; sink: number; redis: number; count: number } | undefined;
  const rss: number[] = [];
  const cpuOf = () => senders.reduce((sum, pid) => sum + cpuMs(pid), 0);
  let lastSample = 0;
  for (;;) {
    const stats = await sink.stats();
    const t = now();
    if (t - lastSample > 250) {
      rss.push(senders.reduce((sum, pid) => sum + rssMb(pid), 0));
      lastSample = t;
    }
    if (!started && stats.count > base) {
      started = { t: stats.first || t, cpu: cpuOf(), sink: cpuMs(sink.child.pid!, false), redis: cpuMs(redisPid, false), count: stats.count - base };
    }
    if (started && stats.count - base >= n) {
      const wallMs = stats.last - started.t;
      const done = n - started.count;
      const cpu = cpuOf() - started.cpu;
      const quarter = Math.max(1, Math.floor(rss.length / 4));
      return {
        perSec: round((n - 1) / (wallMs / 1000)),
        cpuMsPerMsg: round(cpu / Math.max(1, done), 2),
        senderCpuPct: round((cpu / wallMs) * 100),
        sinkCpuPct: round(((cpuMs(sink.child.pid!, false) - started.sink) / wallMs) * 100),
        redisCpuPct: round(((cpuMs(redisPid, false) - started.redis) / wallMs) * 100),
        rssMb: { start: rss[0] ?? 0, peak: Math.max(...rss), end: rss.at(-1) ?? 0 },
        rssTrend: [0, 1, 2, 3].map((i) => rss[Math.min(rss.length - 1, i * quarter)] ?? 0).concat(rss.at(-1) ?? 0),
      };
    }
    if (Date.now() > deadline) throw new Error(`drain: only ${stats.count - base} of ${n} arrived`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The rows

/** Herald's own defaults: the queue floors run with the same jobs in flight and connections, so they compare like with like. */
const HERALD_DEFAULTS = loadConfig({ HERALD_DEV: "1" });

// Before anything is started, so a stale build stops the run without leaving a redis-server behind.
if (!args["no-build"]) {
  log("npm run build");
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
} else if (
  !existsSync(resolve(ROOT, "dist/cli/main.js")) ||
  statSync(resolve(ROOT, "dist/cli/main.js")).mtimeMs < statSync(resolve(ROOT, "src/cli/main.ts")).mtimeMs
) {
  throw new Error("dist/ is missing or older than src/: run npm run build (or drop --no-build)");
}

const redisServer = await startRedisServer({ appendOnly: false });
const redis = new Redis(redisServer.url);
const key = randomBytes(32).toString("base64");
const JOB = (email: string) => ({
  recipient: { userId: "u-1001", email, firstName: "Ada", locale: "de-CH" },
  code: "K7Q2M9",
  url: "https://login.acme.test/reset?code=K7Q2M9",
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});
const SMS_JOB = (phone: string) => ({
  recipient: { userId: "u-1001", phone, locale: "de-CH" },
  code: "318274",
  expiresAt: new Date(Date.now() + 600_000).toISOString(),
});
let prefixes = 0;
const newPrefix = () => `{bench-${++prefixes}}`;

async function enqueueEmails(herald: Herald, n: number, tag: string) {
  for (let i = 0; i < n; i += 1000) {
    const chunk = Math.min(1000, n - i);
    await herald.enqueueBulk(Array.from({ length: chunk }, (_, j) => ({ kind: "password-reset" as const, job: JOB(`${tag}-${i + j}@example.com`) })));
  }
}

/** Redis commands run so far, by name (INFO commandstats; commands a Lua script runs are counted too), INFO left out. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await redis.info("commandstats");
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (match[1] !== "info") calls[match[1]!] = Number(match[2]);
  return calls;
}

/** Commands per job between two commandCalls(): the total, and the top-level calls a client made (scripts count once). */
function commandsPerJob(before: Record<string, number>, after: Record<string, number>, n: number) {
  const delta = Object.fromEntries(Object.entries(after).map(([name, calls]) => [name, (calls - (before[name] ?? 0)) / n]));
  const total = Object.values(delta).reduce((a, b) => a + b, 0);
  const byName = Object.fromEntries(
    Object.entries(delta)
      .filter(([, v]) => v >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([name, v]) => [name, round(v, 2)]),
  );
  return { total: round(total, 1), byName };
}

function workerEnv(smtpUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisServer.url,
    HERALD_PREFIX: prefix,
    HERALD_ENCRYPTION_KEY: key,
    HERALD_DATA_DIR: mkdtempSync(join(tmpdir(), "herald-bench-")),
    SMTP_URL: smtpUrl,
    SMTP_FROM: "Acme ID <no-reply@acme.test>",
    SMTP_REQUIRE_TLS: "0",
    HERALD_PRODUCT_NAME: "Acme ID",
    HERALD_SMS_CHANNEL: "outbox",
    // Throughput of the pipeline, not of the resend limits (the bench sends to a few addresses many times).
    HERALD_LIMITS: "0",
    LOG_LEVEL: "info",
    ...(args.concurrency ? { HERALD_EMAIL_CONCURRENCY: args.concurrency } : {}),
    ...(args.pool ? { SMTP_POOL_SIZE: args.pool } : {}),
    ...extra,
  };
}

async function rawSmtp(sink: Sink, mode: "smtp-small" | "smtp-herald", n: number, senders = 1): Promise<Drain> {
  const base = await resetSink(sink);
  const children = Array.from({ length: senders }, (_, i) =>
    driver({ mode, n: Math.ceil(n / senders), inflight: 20, pool: 10, smtpUrl: sink.url as string, tag: `raw${i}` }),
  );
  const result = await drain(
    sink,
    children.map((c) => c.pid!),
    n,
    base,
    redisServer.pid,
  );
  await Promise.all(children.map(stopDriver));
  return result;
}

/**
 * A BullMQ worker in its own process (bench/procs/driver.ts) draining `n` plain-JSON jobs, as a hand-written
 * producer would queue them, at Herald's default concurrency: the hand-written and "queue in front" rows.
 */
async function bullmqDriverRow(
  sink: Sink,
  n: number,
  job: { queue: string; name: string; data: (i: number) => Record<string, unknown> },
  settings: Omit<DriverSettings, "n" | "redisUrl" | "queue" | "prefix">,
): Promise<Drain> {
  const prefix = newPrefix();
  const queue = new Queue(job.queue, { connection: redis, prefix });
  for (let i = 0; i < n; i += 1000) {
    const chunk = Math.min(1000, n - i);
    await queue.addBulk(
      Array.from({ length: chunk }, (_, j) => ({ name: job.name, data: job.data(i + j), opts: { removeOnComplete: { count: 1000 }, attempts: 3 } })),
    );
  }
  const base = await resetSink(sink);
  const child = driver({ ...settings, n, redisUrl: redisServer.url, queue: job.queue, prefix });
  const result = await drain(sink, [child.pid!], n, base, redisServer.pid);
  await stopDriver(child);
  await queue.obliterate({ force: true });
  await queue.close();
  return result;
}

function bullmqRow(sink: Sink, mode: "bullmq-mjml" | "bullmq-floor", n: number): Promise<Drain> {
  const data = (i: number) => ({ email: `hw-${i}@example.com`, name: "Ada", code: "K7Q2M9", url: "https://login.acme.test/reset?code=K7Q2M9" });
  return bullmqDriverRow(
    sink,
    n,
    { queue: "bench", name: "password-reset", data },
    { mode, inflight: HERALD_DEFAULTS.HERALD_EMAIL_CONCURRENCY, pool: HERALD_DEFAULTS.SMTP_POOL_SIZE, smtpUrl: sink.url as string },
  );
}

interface HeraldRun extends Drain {
  startupMs: number;
  idleRssMb: number;
  redisCallsPerJob: number;
  /** Per command name (a script's own commands counted too). */
  redisCommandsPerJob: Record<string, number>;
}

async function heraldEmail(sink: Sink, n: number, extraEnv: Record<string, string> = {}, extraArgs: string[] = [], root = ROOT): Promise<HeraldRun> {
  const prefix = newPrefix();
  const herald = new Herald({ redis: redisServer.url, prefix, encryptionKey: key, limits: false });
  await enqueueEmails(herald, n, "h");
  await herald.close();
  const base = await resetSink(sink);
  const calls = await commandCalls();
  const spawned = now();
  const child = heraldWorker(workerEnv(sink.url as string, prefix, extraEnv), extraArgs, false, root);
  const ready = await waitForLine(child, '"msg":"workers started"');
  const idleRssMb = rssMb(child.pid!);
  const result = await drain(sink, [child.pid!], n, base, redisServer.pid);
  const commands = commandsPerJob(calls, await commandCalls(), n);
  const redisCallsPerJob = commands.total;
  await stop(child);
  return { ...result, startupMs: round(ready - spawned), idleRssMb, redisCallsPerJob, redisCommandsPerJob: commands.byName };
}

async function rawTwilio(twilio: Sink, n: number, senders = 1): Promise<Drain> {
  const base = await resetSink(twilio);
  const tw = { url: twilio.url as string, accountSid: twilio.accountSid as string, authToken: twilio.authToken as string };
  const children = Array.from({ length: senders }, () => driver({ mode: "twilio", n: Math.ceil(n / senders), inflight: 20, pool: 0, twilio: tw }));
  const result = await drain(
    twilio,
    children.map((c) => c.pid!),
    n,
    base,
    redisServer.pid,
  );
  await Promise.all(children.map(stopDriver));
  return result;
}

/** A BullMQ worker (Herald's SMS concurrency) sending each job's SMS with the raw SDK: the floor of "a queue in front". */
function smsFloor(twilio: Sink, n: number): Promise<Drain> {
  const data = (i: number) => ({ to: `+1415555${String(1000 + (i % 9000)).padStart(4, "0")}`, body: "Dein Code: K7Q2M9" });
  const tw = { url: twilio.url as string, accountSid: twilio.accountSid as string, authToken: twilio.authToken as string };
  return bullmqDriverRow(
    twilio,
    n,
    { queue: "bench-sms", name: "phone-verification", data },
    { mode: "bullmq-twilio", inflight: HERALD_DEFAULTS.HERALD_SMS_CONCURRENCY, pool: 0, twilio: tw },
  );
}

async function heraldSms(twilio: Sink, n: number, extraEnv: Record<string, string> = {}): Promise<HeraldRun> {
  const prefix = newPrefix();
  const herald = new Herald({ redis: redisServer.url, prefix, encryptionKey: key, limits: false });
  for (let i = 0; i < n; i += 1000) {
    const chunk = Math.min(1000, n - i);
    await herald.enqueueBulk(
      Array.from({ length: chunk }, (_, j) => ({
        kind: "phone-verification" as const,
        job: SMS_JOB(`+1415555${String(1000 + ((i + j) % 9000)).padStart(4, "0")}`),
      })),
    );
  }
  await herald.close();
  const base = await resetSink(twilio);
  const calls = await commandCalls();
  const spawned = now();
  const child = heraldWorker(
    {
      REDIS_URL: redisServer.url,
      HERALD_PREFIX: prefix,
      HERALD_ENCRYPTION_KEY: key,
      HERALD_DATA_DIR: mkdtempSync(join(tmpdir(), "herald-bench-")),
      HERALD_EMAIL_CHANNEL: "outbox",
      TWILIO_ACCOUNT_SID: twilio.accountSid as string,
      TWILIO_AUTH_TOKEN: twilio.authToken as string,
      TWILIO_FROM: "+14155550100",
      TWILIO_API_BASE_URL: twilio.url as string,
      LOG_LEVEL: "info",
      ...(args["sms-concurrency"] ? { HERALD_SMS_CONCURRENCY: args["sms-concurrency"] } : {}),
      ...extraEnv,
    },
    ["--queues", "sms"],
  );
  const ready = await waitForLine(child, '"msg":"workers started"');
  const idleRssMb = rssMb(child.pid!);
  const result = await drain(twilio, [child.pid!], n, base, redisServer.pid);
  const commands = commandsPerJob(calls, await commandCalls(), n);
  const redisCallsPerJob = commands.total;
  await stop(child);
  return { ...result, startupMs: round(ready - spawned), idleRssMb, redisCallsPerJob, redisCommandsPerJob: commands.byName };
}

/** What the latency run sends through: Herald (SDK → `herald worker`) or the queue floor (BullMQ add → bare BullMQ worker). */
interface LatencySubject {
  enqueue(address: string): Promise<unknown>;
  queue: Queue;
  close(): Promise<void>;
}

async function heraldSubject(sink: Sink): Promise<LatencySubject> {
  const prefix = newPrefix();
  const child = heraldWorker(workerEnv(sink.url as string, prefix));
  await waitForLine(child, '"msg":"workers started"');
  const herald = new Herald({ redis: redisServer.url, prefix, encryptionKey: key, limits: false });
  const queue = new Queue("email", { connection: redis, prefix });
  return {
    enqueue: (address) => herald.passwordReset(JOB(address)),
    queue,
    async close() {
      await herald.close();
      await queue.close();
      await stop(child);
    },
  };
}

/** The bench's bare BullMQ worker sending Herald's pre-rendered mail, with Herald's default concurrency and pool. */
async function floorSubject(sink: Sink): Promise<LatencySubject> {
  const prefix = newPrefix();
  const queue = new Queue("bench", { connection: redis, prefix });
  const child = driver({
    mode: "bullmq-floor",
    n: 0,
    inflight: HERALD_DEFAULTS.HERALD_EMAIL_CONCURRENCY,
    pool: HERALD_DEFAULTS.SMTP_POOL_SIZE,
    smtpUrl: sink.url as string,
    redisUrl: redisServer.url,
    queue: "bench",
    prefix,
  });
  const data = (email: string) => ({ email, name: "Ada", code: "K7Q2M9", url: "https://login.acme.test/reset?code=K7Q2M9" });
  // Started when it has sent one mail (its process starts under tsx, which the window must not count).
  await queue.add("password-reset", data("probe@example.com"));
  while ((await queue.getCompletedCount()) < 1) await sleep(50);
  return {
    enqueue: (address) => queue.add("password-reset", data(address), { removeOnComplete: false, attempts: 3 }),
    queue,
    async close() {
      await stopDriver(child);
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/**
 * Enqueue → accepted by the SMTP sink, one job at a time at `rate` per second: `warmupSeconds` right after the
 * worker said it started (reported apart as `coldStart`: a new process compiles its hot code and opens its SMTP
 * pool while the first mails wait), then `seconds` more, the steady state the target is about.
 */
async function latency(sink: Sink, subject: LatencySubject, rate: number, seconds: number, warmupSeconds: number) {
  await sink.request("latency");
  const sent = new Map<string, number>();
  /** When the enqueue call resolved: the job is in Redis. */
  const queued = new Map<string, number>();
  const total = Math.round(rate * (warmupSeconds + seconds));
  const start = now();
  const steadyFrom = start + warmupSeconds * 1000;
  let i = 0;
  const pending: Promise<unknown>[] = [];
  while (i < total) {
    const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate) + 1);
    for (; i < due; i++) {
      const address = `lat-${i}@example.com`;
      sent.set(address, now());
      pending.push(subject.enqueue(address).then(() => queued.set(address, now())));
    }
    await sleep(2);
  }
  await Promise.all(pending);
  const got = new Map<string, number>();
  const deadline = Date.now() + 60_000;
  while (got.size < total && Date.now() < deadline) {
    await sleep(200);
    const { accepted } = await sink.request<{ accepted: [string, number][] }>("latency");
    for (const [address, t] of accepted) got.set(address, t);
  }
  // BullMQ's own timestamps: added → taken by the worker (waiting in Redis) and taken → completed.
  const completed = (await subject.queue.getJobs(["completed"], 0, total + 1)).filter((j) => j.timestamp >= start);
  await subject.close();
  const percentiles = (values: number[]) => {
    const sorted = values.sort((a, b) => a - b);
    const p = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN, 1);
    return { p50: p(0.5), p90: p(0.9), p99: p(0.99), max: round(sorted.at(-1) ?? Number.NaN, 1) };
  };
  const window = (steady: boolean) => {
    const inWindow = (address: string) => (sent.get(address) ?? 0) >= steadyFrom === steady;
    const mails = [...got].filter(([address]) => inWindow(address));
    const jobs = completed.filter((j) => j.timestamp >= steadyFrom === steady);
    return {
      jobs: mails.length,
      /** SDK call → accepted by the SMTP server: what a user waits for. */
      enqueueToAcceptedMs: percentiles(mails.map(([address, t]) => t - (sent.get(address) ?? t))),
      /** Job in Redis (SDK call resolved) → accepted: the worker's share. */
      queuedToAcceptedMs: percentiles(mails.map(([address, t]) => t - (queued.get(address) ?? t))),
      /** The SDK call itself (validate, encrypt, one Redis round trip), from the benchmark process. */
      enqueueCallMs: percentiles(mails.map(([address]) => (queued.get(address) ?? 0) - (sent.get(address) ?? 0))),
      /** BullMQ's timestamps (ms resolution): added → processing started, and processing (render + send + complete). */
      waitingInRedisMs: percentiles(jobs.map((j) => (j.processedOn ?? j.timestamp) - j.timestamp)),
      processingMs: percentiles(jobs.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0))),
    };
  };
  return {
    ratePerSec: round(rate),
    jobs: total,
    received: got.size,
    /** From `warmupSeconds` after start on: the figures the target is about. */
    steady: { seconds, ...window(true) },
    /** The first `warmupSeconds` of a new worker process. */
    coldStart: { seconds: warmupSeconds, ...window(false) },
  };
}

async function startup(sink: Sink) {
  const runs: { tsxMs: number; distMs: number; distIdleRssMb: number; tsxIdleRssMb: number }[] = [];
  for (let r = 0; r < 3; r++) {
    const one = async (useTsx: boolean) => {
      const t0 = now();
      const child = heraldWorker(workerEnv(sink.url as string, newPrefix()), [], useTsx);
      const t = await waitForLine(child, '"msg":"workers started"');
      await sleep(1000);
      const rss = rssMb(child.pid!);
      await stop(child);
      return { ms: round(t - t0), rss };
    };
    const dist = await one(false);
    const tsx = await one(true);
    runs.push({ distMs: dist.ms, distIdleRssMb: dist.rss, tsxMs: tsx.ms, tsxIdleRssMb: tsx.rss });
  }
  return {
    distToReadyMs: median(runs.map((r) => r.distMs)),
    distIdleRssMb: median(runs.map((r) => r.distIdleRssMb)),
    tsxToReadyMs: median(runs.map((r) => r.tsxMs)),
    tsxIdleRssMb: median(runs.map((r) => r.tsxIdleRssMb)),
    runs,
  };
}

// ---------------------------------------------------------------------------------------------------------

function summary(rows: Drain[]) {
  return {
    perSec: median(rows.map((r) => r.perSec)),
    cpuMsPerMsg: median(rows.map((r) => r.cpuMsPerMsg)),
    runs: rows.map((r) => r.perSec),
    senderCpuPct: median(rows.map((r) => r.senderCpuPct)),
    sinkCpuPct: median(rows.map((r) => r.sinkCpuPct)),
    redisCpuPct: median(rows.map((r) => r.redisCpuPct)),
  };
}

const smtpSink = await startSink("bench/procs/smtp-sink.ts");
const twilioSink = await startSink("bench/procs/twilio-sink.ts");
const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1];
const result: Record<string, unknown> = {
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    redis: redisVersion,
    loadAverageAtStart: (await import("node:os")).loadavg().map((x) => round(x, 2)),
  },
  settings: { n: N, smsN: SMS_N, repeats: REPEATS, sinkDelayMs: Number(args["sink-delay-ms"]) },
};

try {
  if (wants("email")) {
    const rows: Record<string, Drain[]> = { rawSmall: [], rawHeraldMail: [], twoRawSenders: [], handWritten: [], queueFloor: [], herald: [] };
    if (args["baseline-root"]) rows.heraldBaseline = [];
    const processesRow = Number(args["processes-row"]);
    if (processesRow > 1) rows.heraldProcesses = [];
    const heraldRuns: HeraldRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      log(`email repeat ${r + 1}/${REPEATS}: raw small`);
      rows.rawSmall!.push(await rawSmtp(smtpSink, "smtp-small", N));
      log("raw with Herald's mail");
      rows.rawHeraldMail!.push(await rawSmtp(smtpSink, "smtp-herald", N));
      log("two raw senders with Herald's mail (is the sink the bottleneck?)");
      rows.twoRawSenders!.push(await rawSmtp(smtpSink, "smtp-herald", N, 2));
      log("hand-written BullMQ worker, MJML per job");
      rows.handWritten!.push(await bullmqRow(smtpSink, "bullmq-mjml", Math.ceil(N / 3)));
      log("BullMQ worker, pre-rendered mail (the floor of a queue in front)");
      rows.queueFloor!.push(await bullmqRow(smtpSink, "bullmq-floor", N));
      log("Herald end to end");
      const run = await heraldEmail(smtpSink, N, {}, args.processes ? ["--processes", args.processes] : []);
      heraldRuns.push(run);
      rows.herald!.push(run);
      if (processesRow > 1) {
        log(`Herald end to end, --processes ${processesRow}`);
        rows.heraldProcesses!.push(await heraldEmail(smtpSink, N, {}, ["--processes", String(processesRow)]));
      }
      if (args["baseline-root"]) {
        log(`Herald from ${args["baseline-root"]}`);
        rows.heraldBaseline!.push(await heraldEmail(smtpSink, N, {}, [], resolve(args["baseline-root"])));
      }
    }
    const s = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, summary(v)]));
    // Ratios per repeat (same run), then the median: the machine's noise cancels within a repeat.
    const ratio = (a: string, b: string) => round(median(rows[a]!.map((x, i) => x.perSec / rows[b]![i]!.perSec)), 2);
    result.email = {
      rows: s,
      ratios: {
        heraldToRawHeraldMail: ratio("herald", "rawHeraldMail"),
        heraldToRawSmall: ratio("herald", "rawSmall"),
        heraldToHandWritten: ratio("herald", "handWritten"),
        heraldToQueueFloor: ratio("herald", "queueFloor"),
        twoRawSendersToOne: ratio("twoRawSenders", "rawHeraldMail"),
        ...(processesRow > 1
          ? { heraldProcessesToRawHeraldMail: ratio("heraldProcesses", "rawHeraldMail"), heraldProcessesToHerald: ratio("heraldProcesses", "herald") }
          : {}),
        ...(args["baseline-root"]
          ? { heraldToBaseline: ratio("herald", "heraldBaseline"), baselineToRawHeraldMail: ratio("heraldBaseline", "rawHeraldMail") }
          : {}),
      },
      heraldRedisCallsPerJob: median(heraldRuns.map((r) => r.redisCallsPerJob)),
      heraldRedisCommandsPerJob: heraldRuns[0]?.redisCommandsPerJob,
      heraldRssMb: heraldRuns.map((r) => r.rssMb),
    };
  }
  if (wants("sms")) {
    const raw: Drain[] = [];
    const two: Drain[] = [];
    const floor: Drain[] = [];
    const herald: HeraldRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      log(`sms repeat ${r + 1}/${REPEATS}: raw Twilio SDK`);
      raw.push(await rawTwilio(twilioSink, SMS_N));
      log("two raw SDK senders");
      two.push(await rawTwilio(twilioSink, SMS_N, 2));
      log("BullMQ worker + raw SDK (the floor of a queue in front)");
      floor.push(await smsFloor(twilioSink, SMS_N));
      log("Herald SMS end to end");
      herald.push(await heraldSms(twilioSink, SMS_N));
    }
    result.sms = {
      rows: { rawSdk: summary(raw), twoRawSenders: summary(two), queueFloor: summary(floor), herald: summary(herald) },
      ratios: {
        heraldToRawSdk: round(median(herald.map((h, i) => h.perSec / raw[i]!.perSec)), 2),
        queueFloorToRawSdk: round(median(floor.map((f, i) => f.perSec / raw[i]!.perSec)), 2),
        heraldToQueueFloor: round(median(herald.map((h, i) => h.perSec / floor[i]!.perSec)), 2),
        twoRawSendersToOne: round(median(two.map((t, i) => t.perSec / raw[i]!.perSec)), 2),
      },
      heraldRedisCallsPerJob: median(herald.map((r) => r.redisCallsPerJob)),
      heraldRedisCommandsPerJob: herald[0]?.redisCommandsPerJob,
    };
  }
  if (wants("latency")) {
    log("latency at half of Herald's rate");
    const email = result.email as { rows: { herald: { perSec: number } } } | undefined;
    const max = args["latency-rate"] ? 2 * Number(args["latency-rate"]) : (email?.rows.herald.perSec ?? (await heraldEmail(smtpSink, N)).perSec);
    const windows = [Number(args["latency-s"]), Number(args["latency-warmup-s"])] as const;
    result.latency = {
      herald: await latency(smtpSink, await heraldSubject(smtpSink), max / 2, ...windows),
      ...(args["latency-floor"] === "0" ? {} : { queueFloor: await latency(smtpSink, await floorSubject(smtpSink), max / 2, ...windows) }),
    };
  }
  if (wants("startup")) {
    log("start-up to ready");
    result.startup = await startup(smtpSink);
  }
  if (wants("long")) {
    const n = Number(args.long);
    log(`long run: ${n} jobs`);
    const run = await heraldEmail(smtpSink, n);
    result.long = { jobs: n, perSec: run.perSec, cpuMsPerMsg: run.cpuMsPerMsg, idleRssMb: run.idleRssMb, rssMb: run.rssMb, rssQuartersMb: run.rssTrend };
  }
  if (args.sweep) {
    const list = (v: string | undefined) => (v ?? "").split(",").filter(Boolean).map(Number);
    const sweep: { processes: number; concurrency: number; pool: number; perSec: number; cpuMsPerMsg: number; ratioToRaw: number }[] = [];
    for (const processes of list(args["sweep-processes"])) {
      for (const concurrency of list(args["sweep-concurrency"])) {
        for (const pool of list(args["sweep-pool"])) {
          log(`sweep processes ${processes} concurrency ${concurrency} pool ${pool}`);
          const raw = await rawSmtp(smtpSink, "smtp-herald", N);
          const run = await heraldEmail(
            smtpSink,
            N,
            { HERALD_EMAIL_CONCURRENCY: String(concurrency), SMTP_POOL_SIZE: String(pool) },
            processes > 1 ? ["--processes", String(processes)] : [],
          );
          sweep.push({ processes, concurrency, pool, perSec: run.perSec, cpuMsPerMsg: run.cpuMsPerMsg, ratioToRaw: round(run.perSec / raw.perSec, 2) });
        }
      }
    }
    result.sweep = sweep;
  }
  if (args["sms-sweep"]) {
    const sweep: { concurrency: number; perSec: number; ratioToRaw: number }[] = [];
    for (const concurrency of args["sms-sweep"].split(",").map(Number)) {
      log(`sms sweep concurrency ${concurrency}`);
      const raw = await rawTwilio(twilioSink, SMS_N);
      const run = await heraldSms(twilioSink, SMS_N, { HERALD_SMS_CONCURRENCY: String(concurrency) });
      sweep.push({ concurrency, perSec: run.perSec, ratioToRaw: round(run.perSec / raw.perSec, 2) });
    }
    result.smsSweep = sweep;
  }
} finally {
  smtpSink.child.disconnect();
  twilioSink.child.disconnect();
  redis.disconnect();
  await redisServer.stop();
}
console.log(JSON.stringify(result, null, 2));
