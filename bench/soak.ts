// Memory soak: runs `herald api` as a child against a private redis-server, sends it a steady mix of good
// and hostile requests, samples the child's RSS (and V8 heap from /metrics) and checks that memory levels
// off. Prints one JSON object; exits 1 if memory kept growing or the API answered 500 (503 is counted).
//
//   npm run soak                         # 10 minutes
//   SOAK_DURATION_S=120 npm run soak      # shorter; also SOAK_RPS, SOAK_TOLERANCE_PCT, SOAK_LOG_LEVEL
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { spawnCli, waitForLog } from "../test/support/cli.js";
import { freePort, startRedisServer } from "../test/support/redis-server.js";

export interface SoakOptions {
  durationMs: number;
  /** Requests per second sent, good and bad together. */
  rps: number;
  /** Share of the requests that are hostile (0..1). */
  badShare: number;
  /** RSS of the last third may exceed the middle third's by at most this much. */
  tolerancePct: number;
  sampleEveryMs: number;
  logLevel: string;
}

export interface SoakResult {
  durationS: number;
  requests: number;
  requestsPerSecond: number;
  byStatus: Record<string, number>;
  byCase: Record<string, number>;
  networkErrors: number;
  rssMb: { start: number; endOfWarmup: number; middleMedian: number; lastMedian: number; max: number; end: number };
  heapUsedMb?: { middleMedian: number; lastMedian: number; max: number };
  /** Least-squares slope of RSS over the middle and last thirds. */
  rssSlopeMbPerMin: number;
  growthPct: number;
  tolerancePct: number;
  flat: boolean;
  /** No 500-class answer other than 503 (Redis slower than the API's deadline: load shedding by design). */
  noServerErrors: boolean;
  /** 503 answers: counted, not failed, since an overloaded machine can make Redis slower than 5 s. */
  unavailable: number;
  healthyAfter: boolean;
  samples: { t: number; rssMb: number; heapMb?: number }[];
}

const ENQUEUE = "enqueue-soak-token-0123456789abcdef";
const ADMIN = "admin-soak-token-0123456789abcdef";
const KINDS = ["email-verification", "password-reset", "phone-verification", "passkey-link", "resend-initialization"] as const;

function goodJob(kind: (typeof KINDS)[number], i: number): Record<string, unknown> {
  const code = `S${i}-${randomBytes(4).toString("hex")}`;
  const recipient = {
    userId: `u-${i}`,
    email: `user${i % 1000}@example.com`,
    phone: "+41791234567",
    firstName: "Ada",
    locale: ["en", "de-CH", "ar", "ja"][i % 4],
  };
  // A few keys repeat, so the deduplicated path runs too; most are fresh, like real traffic.
  const idempotencyKey = i % 5 === 0 ? `repeat-${i % 50}` : i % 2 === 0 ? `evt-${randomUUID()}` : undefined;
  const base = { recipient, code, ...(idempotencyKey ? { idempotencyKey } : {}) };
  if (kind === "phone-verification") return { ...base, recipient: { userId: recipient.userId, phone: recipient.phone, locale: recipient.locale } };
  if (kind === "passkey-link") return { ...base, codeId: `cid-${i}`, urlTemplate: "https://login.example.com/passkey?code={{code}}&id={{codeId}}" };
  return { ...base, url: `https://login.example.com/x?c=${code}` };
}

interface Request {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const json = { "content-type": "application/json" };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
// Built once: generating a megabyte per request would measure the client, not the server.
const HUGE_BODY = JSON.stringify({ recipient: { userId: "u", email: "a@example.com" }, code: "C", url: "https://x.test", pad: "x".repeat(1024 * 1024) });
const BIG_BUT_ALLOWED = JSON.stringify({ recipient: { userId: "u".repeat(40_000), email: "a@example.com" }, code: "C", url: "https://x.test" });
const DEEP = "[".repeat(5000) + "]".repeat(5000);
const MANY_KEYS = JSON.stringify(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i])));
const LONG_TOKEN = "t".repeat(8000);

/** One hostile request; `i` picks the case, so every case is sent evenly. */
function badRequest(i: number): Request {
  const kind = KINDS[i % KINDS.length]!; // an index modulo the length is always present
  const path = `/v1/notifications/${kind}`;
  const auth = { ...json, ...bearer(ENQUEUE) };
  const cases: (() => Request)[] = [
    () => ({ label: "malformed-json", method: "POST", path, headers: auth, body: '{"recipient": {"userId": "u", "email": ' }),
    () => ({ label: "huge-body", method: "POST", path, headers: auth, body: HUGE_BODY }),
    () => ({ label: "big-allowed-body", method: "POST", path, headers: auth, body: BIG_BUT_ALLOWED }),
    () => ({ label: "wrong-types", method: "POST", path, headers: auth, body: JSON.stringify({ recipient: "ada", code: 123, url: ["x"], expiresAt: {} }) }),
    () => ({ label: "unknown-fields", method: "POST", path, headers: auth, body: MANY_KEYS }),
    () => ({ label: "deep-nesting", method: "POST", path, headers: auth, body: DEEP }),
    () => ({ label: "unknown-kind", method: "POST", path: `/v1/notifications/${randomBytes(6).toString("hex")}`, headers: auth, body: "{}" }),
    () => ({
      label: "bad-token",
      method: "POST",
      path,
      headers: { ...json, ...bearer(randomBytes(24).toString("hex")) },
      body: JSON.stringify(goodJob(kind, i)),
    }),
    () => ({ label: "no-token", method: "POST", path, headers: json, body: "{}" }),
    () => ({ label: "long-token", method: "POST", path, headers: { ...json, ...bearer(LONG_TOKEN) }, body: "{}" }),
    () => ({ label: "wrong-scope", method: "GET", path: "/v1/dead-letters?limit=5", headers: bearer(ENQUEUE) }),
    () => ({ label: "wrong-content-type", method: "POST", path, headers: { "content-type": "text/plain", ...bearer(ENQUEUE) }, body: "hello" }),
    () => ({ label: "invalid-utf8", method: "POST", path, headers: auth, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }),
    () => ({ label: "empty-body", method: "POST", path, headers: auth, body: "" }),
    () => ({
      label: "junk-status-id",
      method: "GET",
      path: `/v1/notifications/${encodeURIComponent(randomBytes(40).toString("base64"))}`,
      headers: bearer(ENQUEUE),
    }),
    () => ({ label: "random-path", method: "GET", path: `/${randomBytes(8).toString("hex")}?q=${"a".repeat(2000)}`, headers: {} }),
    () => ({
      label: "board-bad-login",
      method: "GET",
      path: "/admin/queues",
      headers: { authorization: `Basic ${Buffer.from(`admin:${randomUUID()}`).toString("base64")}` },
    }),
    () => ({ label: "expired-code", method: "POST", path, headers: auth, body: JSON.stringify({ ...goodJob(kind, i), expiresAt: "2001-01-01T00:00:00Z" }) }),
  ];
  return cases[Math.floor(i / KINDS.length) % cases.length]!();
}

function goodRequest(i: number, recentIds: string[]): Request {
  if (i % 10 === 9 && recentIds.length > 0) {
    return { label: "status", method: "GET", path: `/v1/notifications/${recentIds[i % recentIds.length]}`, headers: bearer(ENQUEUE) };
  }
  if (i % 50 === 7) return { label: "dead-letters", method: "GET", path: "/v1/dead-letters?limit=10", headers: bearer(ADMIN) };
  const kind = KINDS[i % KINDS.length]!; // an index modulo the length is always present
  return {
    label: "enqueue",
    method: "POST",
    path: `/v1/notifications/${kind}`,
    headers: { ...json, ...bearer(ENQUEUE) },
    body: JSON.stringify(goodJob(kind, i)),
  };
}

function rssMbOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return +(kb / 1024).toFixed(1);
}

async function heapMbOf(base: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    const bytes = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1]);
    return Number.isFinite(bytes) ? +(bytes / 1024 / 1024).toFixed(1) : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN; // NaN for no samples
};

function slopePerMin(points: { t: number; v: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : +((num / den) * 60_000).toFixed(2);
}

export async function runSoak(opts: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const o: SoakOptions = { durationMs: 600_000, rps: 200, badShare: 0.5, tolerancePct: 10, sampleEveryMs: 1000, logLevel: "info", ...opts };
  const redis = await startRedisServer();
  const dataDir = mkdtempSync(join(tmpdir(), "herald-soak-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const api = spawnCli(["api"], {
    REDIS_URL: redis.url,
    HERALD_HTTP_PORT: String(port),
    HERALD_HTTP_HOST: "127.0.0.1",
    HERALD_API_TOKENS: `enqueue:${ENQUEUE},admin:${ADMIN}`,
    HERALD_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    HERALD_DATA_DIR: dataDir,
    // The soak measures memory under load, not the resend limits (which would refuse most of it).
    HERALD_LIMITS: "0",
    LOG_LEVEL: o.logLevel,
  });
  let tail = "";
  api.stderr!.on("data", (c: Buffer) => (tail = (tail + c.toString()).slice(-4000)));
  api.stdout!.resume();
  // The API has no workers here: queued jobs are drained now and then, so Redis does not fill up.
  const drainConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queues = ["email", "sms"].map((name) => new Queue(name, { connection: drainConnection, prefix: "{herald}" }));

  try {
    await waitForLog(api, "http server listening", 60_000);
    const byStatus: Record<string, number> = {};
    const byCase: Record<string, number> = {};
    const recentIds: string[] = [];
    let networkErrors = 0;
    let sent = 0;
    const samples: SoakResult["samples"] = [];
    const started = Date.now();
    const sample = async () => samples.push({ t: Date.now() - started, rssMb: rssMbOf(api.pid!), heapMb: await heapMbOf(base) });
    await sample();

    const send = async (req: Request) => {
      byCase[req.label] = (byCase[req.label] ?? 0) + 1;
      try {
        const res = await fetch(base + req.path, { method: req.method, headers: req.headers, body: req.body, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        if (res.status === 202 && req.label === "enqueue") {
          const id = (JSON.parse(text) as { id: string }).id;
          recentIds[sent % 100] = id;
        }
      } catch {
        // A 413 may close the connection before the whole body is sent: count it, it is not a server error.
        networkErrors++;
      }
    };

    // Paced sending: a fixed rate keeps the load the same from start to end, so memory can be compared.
    const inFlight = new Set<Promise<void>>();
    const sampler = setInterval(() => void sample(), o.sampleEveryMs);
    const drainer = setInterval(() => queues.forEach((q) => void q.drain(true).catch(() => {})), 20_000);
    try {
      while (Date.now() - started < o.durationMs) {
        const due = Math.floor(((Date.now() - started) / 1000) * o.rps);
        while (sent < due && inFlight.size < 64) {
          const i = sent++;
          const bad = (i * 7919) % 1000 < o.badShare * 1000;
          const p = send(bad ? badRequest(i) : goodRequest(i, recentIds.filter(Boolean))).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(inFlight);
    } finally {
      clearInterval(sampler);
      clearInterval(drainer);
    }
    await sample();
    const healthyAfter = (await fetch(`${base}/healthz`)).status === 200;

    const third = o.durationMs / 3;
    const middle = samples.filter((s) => s.t >= third && s.t < 2 * third);
    const last = samples.filter((s) => s.t >= 2 * third);
    const middleMedian = median(middle.map((s) => s.rssMb));
    const lastMedian = median(last.map((s) => s.rssMb));
    const growthPct = +(((lastMedian - middleMedian) / middleMedian) * 100).toFixed(1);
    const heaps = (xs: typeof samples) => xs.map((s) => s.heapMb).filter((h): h is number => h !== undefined);
    const durationS = (Date.now() - started) / 1000;
    const noServerErrors = Object.keys(byStatus).every((s) => Number(s) < 500 || s === "503");
    const warm = samples.filter((s) => s.t < third);
    return {
      durationS: +durationS.toFixed(1),
      requests: sent,
      requestsPerSecond: +(sent / durationS).toFixed(1),
      byStatus,
      byCase,
      networkErrors,
      rssMb: {
        start: samples[0]?.rssMb ?? NaN,
        endOfWarmup: warm.at(-1)?.rssMb ?? NaN,
        middleMedian,
        lastMedian,
        max: Math.max(...samples.map((s) => s.rssMb)),
        end: samples.at(-1)!.rssMb,
      },
      heapUsedMb: heaps(samples).length
        ? { middleMedian: median(heaps(middle)), lastMedian: median(heaps(last)), max: Math.max(...heaps(samples)) }
        : undefined,
      rssSlopeMbPerMin: slopePerMin([...middle, ...last].map((s) => ({ t: s.t, v: s.rssMb }))),
      growthPct,
      tolerancePct: o.tolerancePct,
      flat: growthPct <= o.tolerancePct,
      noServerErrors,
      unavailable: byStatus["503"] ?? 0,
      healthyAfter,
      samples,
    };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- herald api log tail ---\n${tail}`);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    drainConnection.disconnect();
    if (api.exitCode === null) {
      const exited = once(api, "exit");
      api.kill("SIGKILL");
      await exited;
    }
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const env = process.env;
  const result = await runSoak({
    durationMs: Number(env.SOAK_DURATION_S ?? 600) * 1000,
    rps: Number(env.SOAK_RPS ?? 200),
    tolerancePct: Number(env.SOAK_TOLERANCE_PCT ?? 10),
    logLevel: env.SOAK_LOG_LEVEL ?? "info",
  });
  // The samples are for plotting; print them only when asked, the summary always.
  const { samples, ...summary } = result;
  console.log(JSON.stringify(env.SOAK_SAMPLES === "1" ? result : { ...summary, sampleCount: samples.length }, null, 2));
  process.exit(result.flat && result.noServerErrors && result.healthyAfter ? 0 : 1);
}
