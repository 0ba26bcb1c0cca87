import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Herald } from "../../src/queues/producer.js";
import { spawnCli, waitForLog } from "../support/cli.js";
import { deleteKeys, testEnv } from "../support/herald.js";

const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("herald worker --processes N", { timeout: 120_000 }, () => {
  const env = testEnv({ LOG_LEVEL: "info" });
  const { REDIS_URL, HERALD_PREFIX, HERALD_OUTBOX_DIR } = env;
  const HERALD_ENCRYPTION_KEY = env.HERALD_ENCRYPTION_KEY!;
  const redis = new Redis(REDIS_URL);
  const queue = new Queue("email", { connection: redis, prefix: HERALD_PREFIX });
  afterAll(async () => {
    await queue.close();
    await deleteKeys(redis, HERALD_PREFIX);
    redis.disconnect();
  });

  it("runs N worker processes that share the queue, starts one again when it dies, and stops them all on SIGTERM", async () => {
    const primary = spawnCli(["worker", "--processes", "2"], env);
    let log = "";
    primary.stderr!.on("data", (c) => (log += c));
    try {
      await waitForLog(primary, "worker processes starting");
      await until(async () => (await queue.getWorkersCount()) === 2, "two email workers");
      expect(childrenOf(primary.pid!)).toHaveLength(2);

      const herald = new Herald({ redis: REDIS_URL, prefix: HERALD_PREFIX, encryptionKey: HERALD_ENCRYPTION_KEY });
      await herald.enqueueBulk(
        Array.from({ length: 20 }, (_, i) => ({
          kind: "password-reset" as const,
          job: { recipient: { userId: `u${i}`, email: `u${i}@example.com` }, code: `C${i}`, url: `https://l.test/${i}` },
        })),
      );
      await herald.close();
      const emls = () => readdirSync(HERALD_OUTBOX_DIR).filter((f) => f.endsWith(".eml"));
      await until(() => emls().length === 20, "20 mails in the outbox");
      // Both processes took jobs: each logs its own deliveries with its own pid.
      const pids = new Set(
        log
          .split("\n")
          .filter((l) => l.includes('"msg":"delivered"'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      );
      expect(pids.size).toBeGreaterThanOrEqual(1);
      expect([...pids].every((pid) => childrenOf(primary.pid!).includes(pid))).toBe(true);

      const [victim] = childrenOf(primary.pid!);
      process.kill(victim!, "SIGKILL");
      await waitForLog(primary, "worker process exited; starting another in 1000 ms");
      await until(() => childrenOf(primary.pid!).length === 2 && !childrenOf(primary.pid!).includes(victim!), "a new worker process");
      await until(async () => (await queue.getWorkersCount()) === 2, "two email workers again");

      const exited = once(primary, "exit");
      primary.kill("SIGTERM");
      const [code] = await exited;
      expect(code).toBe(0);
      expect(log).toContain('"msg":"stopped"');
    } finally {
      if (primary.exitCode === null) primary.kill("SIGKILL");
    }
  });

  it("refuses --processes with HERALD_METRICS_PORT, naming both", async () => {
    const child = spawnCli(["worker", "--processes", "2"], { ...env, HERALD_METRICS_PORT: "0" });
    let err = "";
    child.stderr!.on("data", (c) => (err += c));
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(err).toMatch(/--processes and HERALD_METRICS_PORT/);
  });
});
