import { once } from "node:events";
import { readdirSync, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { spawnCli, waitForLog } from "../support/cli.js";
import { deleteKeys, testEnv } from "../support/herald.js";

function waitForFile(dir: string, suffix: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const find = () => readdirSync(dir).find((f) => f.endsWith(suffix) && !f.startsWith("."));
    const watcher = watch(dir, () => {
      const found = find();
      if (found) finish(found);
    });
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`no *${suffix} in ${dir} within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (name: string) => {
      clearTimeout(timer);
      watcher.close();
      resolve(join(dir, name));
    };
    const already = find();
    if (already) finish(already);
  });
}

describe("herald start (the quick start): workers, API and the file outbox in one process", { timeout: 120_000 }, () => {
  const env = testEnv({
    LOG_LEVEL: "info",
    HERALD_HTTP_PORT: "0",
    HERALD_HTTP_HOST: "127.0.0.1",
    HERALD_API_TOKENS: "enqueue:enqueue-token-0123456789,admin:admin-token-0123456789abc",
  });
  const redis = new Redis(env.REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, env.HERALD_PREFIX);
    redis.disconnect();
  });

  it("takes a notification over HTTP, writes it to the outbox, and shuts down cleanly on SIGTERM", async () => {
    const herald = spawnCli(["start"], env);
    let log = "";
    herald.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(herald, "http server listening");
      const url = JSON.parse(log.split("\n").find((l) => l.includes('"http server listening"'))!).address as string;

      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);

      const res = await fetch(`${url}/v1/notifications/password-reset`, {
        method: "POST",
        headers: { authorization: "Bearer enqueue-token-0123456789", "content-type": "application/json" },
        body: JSON.stringify({
          recipient: { userId: "u1", email: "ada@example.com", locale: "de" },
          code: "OUTBOX-1",
          url: "https://login.example.com/r?c=OUTBOX-1",
        }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };

      const eml = await waitForFile(env.HERALD_OUTBOX_DIR, ".eml");
      const mail = await simpleParser(readFileSync(eml));
      expect(mail.to && "text" in mail.to ? mail.to.text : "").toBe("ada@example.com");
      expect(mail.subject).toMatch(/Passwort/);
      expect(mail.text).toContain("OUTBOX-1");
      expect(mail.headers.get("auto-submitted")).toBe("auto-generated");

      const status = await fetch(`${url}/v1/notifications/${id}`, { headers: { authorization: "Bearer enqueue-token-0123456789" } });
      expect(await status.json()).toMatchObject({ id, status: "delivered", provider: "outbox" });

      herald.kill("SIGTERM");
      const [code] = await once(herald, "exit");
      expect(code).toBe(0);
      expect(log).toContain('"msg":"stopped"');
      expect(log).not.toContain("ada@example.com");
      expect(log).not.toContain("OUTBOX-1");
    } finally {
      herald.kill("SIGKILL");
    }
  });

  it("refuses to open the API without tokens unless HERALD_DEV=1", async () => {
    const closed = spawnCli(["start"], { ...env, HERALD_API_TOKENS: "" });
    let log = "";
    closed.stderr!.on("data", (c) => (log += c));
    const [code] = await once(closed, "exit");
    expect(code).toBe(1);
    expect(log).toMatch(/HERALD_API_TOKENS is not set/);
  });
});

describe("herald worker with HERALD_METRICS_PORT", { timeout: 120_000 }, () => {
  const env = testEnv({ LOG_LEVEL: "info", HERALD_METRICS_PORT: "0", HERALD_HTTP_HOST: "127.0.0.1" });
  const redis = new Redis(env.REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, env.HERALD_PREFIX);
    redis.disconnect();
  });

  it("counts its own deliveries on /metrics and answers /healthz", async () => {
    const worker = spawnCli(["worker", "--queues", "email"], env);
    let log = "";
    worker.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(worker, "worker metrics listening");
      const address = JSON.parse(log.split("\n").find((l) => l.includes('"worker metrics listening"'))!).address as string;
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
      const { Herald } = await import("../../src/queues/producer.js");
      const herald = new Herald({ redis: env.REDIS_URL, prefix: env.HERALD_PREFIX, encryptionKey: env.HERALD_ENCRYPTION_KEY });
      await herald.emailVerification({ recipient: { userId: "u", email: "m@example.com" }, code: "M1", url: "https://x.test/v" });
      await herald.close();
      await waitForFile(env.HERALD_OUTBOX_DIR, ".eml");
      await expect
        .poll(
          async () =>
            (await (await fetch(`${address}/metrics`)).text()).match(/herald_jobs_delivered_total\{kind="email-verification",channel="email"\} (\d+)/)?.[1],
          { timeout: 10_000 },
        )
        .toBe("1");
      // Two signals at once (Ctrl-C under npm delivers the terminal's and npm's) are one: a graceful stop.
      worker.kill("SIGINT");
      worker.kill("SIGINT");
      const [code] = await once(worker, "exit");
      expect(code).toBe(0);
      expect(log).toContain('"msg":"stopped"');
    } finally {
      worker.kill("SIGKILL");
    }
  });
});
