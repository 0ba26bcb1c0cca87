import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, watch } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, runCli, spawnCli, waitForLog, type CliResult } from "../support/cli.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { deleteKeys, testEnv, uniquePrefix } from "../support/herald.js";

const TOKENS = "enqueue:enqueue-token-0123456789,admin:admin-token-0123456789abc,metrics:metrics-token-0123456789";
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
});
const env = (extra: Record<string, string | undefined> = {}) => {
  const e = testEnv({ LOG_LEVEL: "info", HERALD_HTTP_PORT: "0", HERALD_API_TOKENS: TOKENS, ...extra });
  prefixes.push(e.HERALD_PREFIX);
  return e;
};
/** The lines a person reads: stderr without the JSON log lines. */
const plainLines = (r: CliResult) => r.stderr.split("\n").filter((l) => l.trim() && !l.startsWith("{"));

function addressOf(log: string, msg: string): string {
  return JSON.parse(log.split("\n").find((l) => l.includes(`"msg":"${msg}"`))!).address as string;
}

function waitForFile(dir: string, suffix: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const find = () => readdirSync(dir).find((f) => f.endsWith(suffix) && !f.startsWith("."));
    const watcher = watch(dir, () => find() && finish(find()!));
    const timer = setTimeout(() => (watcher.close(), reject(new Error(`no *${suffix} in ${dir}`))), timeoutMs);
    const finish = (name: string) => (clearTimeout(timer), watcher.close(), resolve(join(dir, name)));
    if (find()) finish(find()!);
  });
}

// Each case is a fresh Node process (a second or more on a busy machine): generous limits.
describe("fail closed at start (the real CLI)", { timeout: 120_000 }, () => {
  it("herald worker without SMTP_URL refuses to start, naming it; herald api needs no provider", async () => {
    const noProvider = env({ HERALD_EMAIL_CHANNEL: undefined, HERALD_SMS_CHANNEL: undefined });
    const worker = await runCli(["worker"], noProvider);
    expect(worker.code).toBe(1);
    expect(worker.stderr).toMatch(/^error: SMTP_URL is not set/m);
    expect(worker.stderr).toMatch(/TWILIO_ACCOUNT_SID is not set/);

    const api = spawnCli(["api"], { ...noProvider, HERALD_HTTP_HOST: "127.0.0.1" });
    let log = "";
    api.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(api, "http server listening", 60_000);
      // No HERALD_SMS_ALLOWED_COUNTRIES outside development: said loudly at start.
      expect(log).toMatch(/"level":40.*HERALD_SMS_ALLOWED_COUNTRIES is not set: SMS may go to every country/);
    } finally {
      api.kill("SIGTERM");
      await once(api, "exit");
    }
  });

  it("herald worker without HERALD_ENCRYPTION_KEY refuses to start, naming it", async () => {
    const e = env({ HERALD_ENCRYPTION_KEY: undefined });
    const result = await runCli(["worker"], e);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: HERALD_ENCRYPTION_KEY is not set/m);
    expect(readdirSync(e.HERALD_DATA_DIR)).toEqual([]);
  });

  it("a misspelled HERALD_* variable stops start-up with the closest real name", async () => {
    const result = await runCli(["worker"], env({ HERALD_ATEMPTS: "3" }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HERALD_ATEMPTS is not a Herald setting; did you mean HERALD_ATTEMPTS\?/);
  });

  it("a port in use is one line naming HERALD_HTTP_PORT", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await runCli(["api"], env({ HERALD_HTTP_PORT: String(port), HERALD_HTTP_HOST: "127.0.0.1" }));
      expect(result.code).toBe(1);
      expect(plainLines(result)).toEqual([
        `error: HERALD_HTTP_PORT: port ${port} on 127.0.0.1 is already in use by another process; stop it or choose another HERALD_HTTP_PORT`,
      ]);
    } finally {
      blocker.close();
    }
  });

  it("a Redis database index the server does not have ends the process with a clear error", async () => {
    const result = await runCli(["worker"], env({ REDIS_URL: "redis://127.0.0.1:6379/99" }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: REDIS_URL selects database 99, which this Redis refuses \(ERR DB index is out of range\)/);
  });

  it("HERALD_DEV=1 without tokens refuses to serve the open API beyond loopback", async () => {
    const result = await runCli(["api"], env({ HERALD_DEV: "1", HERALD_API_TOKENS: undefined, HERALD_HTTP_HOST: "0.0.0.0" }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: HERALD_HTTP_HOST=0.0.0.0 with HERALD_DEV=1 and no HERALD_API_TOKENS would serve the unauthenticated admin API/);
  });
});

describe("metrics are not public by default", { timeout: 120_000 }, () => {
  it("herald worker's HERALD_METRICS_PORT listens on loopback unless HERALD_METRICS_HOST says otherwise", async () => {
    const worker = spawnCli(["worker", "--queues", "email"], env({ HERALD_METRICS_PORT: "0" }));
    let log = "";
    worker.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(worker, "worker metrics listening", 60_000);
      expect(addressOf(log, "worker metrics listening")).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      worker.kill("SIGTERM");
      await once(worker, "exit");
    }
  });

  it("an API listening beyond loopback serves /metrics only with a metrics or admin token", async () => {
    // Listens on every interface, as in a container; the test talks to it over loopback only.
    const api = spawnCli(["api"], env({ HERALD_HTTP_HOST: "0.0.0.0" }));
    let log = "";
    api.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(api, "http server listening", 60_000);
      const port = new URL(addressOf(log, "http server listening")).port;
      const metrics = (token?: string) => fetch(`http://127.0.0.1:${port}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect((await metrics()).status).toBe(401);
      expect((await metrics("enqueue-token-0123456789")).status).toBe(401);
      expect((await metrics("metrics-token-0123456789")).status).toBe(200);
      expect(await (await metrics("admin-token-0123456789abc")).text()).toContain("herald_redis_up");
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      api.kill("SIGTERM");
      await once(api, "exit");
    }
  });
});

describe("the SMTP check at start is a /readyz detail, not a failure", { timeout: 120_000 }, () => {
  it("herald start against a relay without STARTTLS stays ready and says why mail will not go", async () => {
    const smtp = await startSmtpServer();
    const start = spawnCli(
      ["start"],
      env({ SMTP_URL: smtp.url, SMTP_FROM: "Herald <no-reply@herald.test>", SMTP_REQUIRE_TLS: undefined, HERALD_HTTP_HOST: "127.0.0.1" }),
    );
    let log = "";
    start.stderr!.on("data", (c) => (log += c));
    try {
      // Either may come first: the check runs in the background while the HTTP server starts.
      await Promise.all([
        waitForLog(start, "provider check failed at start: mails will wait and be retried until it works; check the SMTP_* settings", 60_000),
        waitForLog(start, "http server listening", 60_000),
      ]);
      const ready = await fetch(`${addressOf(log, "http server listening")}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
      expect(body.checks.smtp).toMatchObject({ ok: true, detail: expect.stringMatching(/smtp check at start failed: .*STARTTLS/) });
    } finally {
      start.kill("SIGTERM");
      await once(start, "exit");
      await smtp.close();
    }
  });
});

describe("the README quick start needs no configuration", { timeout: 120_000 }, () => {
  it("`npm run herald -- send` works without HERALD_DEV or a key, and `npm start`'s worker delivers it to the outbox", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "herald-quick-"));
    const outbox = mkdtempSync(join(tmpdir(), "herald-quick-outbox-"));
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    // What a second terminal has: nothing Herald-specific but where to put files (kept out of the checkout here).
    const shared = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      HERALD_PREFIX: prefix,
      HERALD_DATA_DIR: dataDir,
      HERALD_OUTBOX_DIR: outbox,
      LOG_LEVEL: "info",
    };
    const data = JSON.stringify({
      recipient: { userId: "u-1", email: "ada@example.com", locale: "de-CH" },
      code: "K7Q-44P",
      urlTemplate: "https://login.example.com/reset?code={{code}}&user={{userId}}",
    });
    const send = spawn("npm", ["run", "--silent", "herald", "--", "send", "password-reset", "--data", data], {
      cwd: ROOT,
      env: shared,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    send.stdout.on("data", (c) => (out += c));
    send.stderr.on("data", (c) => (err += c));
    const [code] = await once(send, "exit");
    expect(err).not.toMatch(/^error:/m);
    expect(code).toBe(0);
    expect(out.trim()).toMatch(/^[0-9a-f-]{36}$/);

    // `npm start` sets HERALD_DEV=1 the same way; its workers share the dev key file in the data dir.
    const worker = spawnCli(["worker"], { ...shared, HERALD_DEV: "1" });
    try {
      const eml = await waitForFile(outbox, ".eml");
      expect(eml).toMatch(/\.eml$/);
    } finally {
      worker.kill("SIGTERM");
      await once(worker, "exit");
    }
  });
});
