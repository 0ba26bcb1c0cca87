import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, spawnCli, waitForLog } from "../support/cli.js";
import { deleteKeys, testEnv } from "../support/herald.js";

const TSX = resolve(ROOT, "node_modules/tsx/dist/loader.mjs");
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `herald worker` with a real terminal on stderr (util-linux `script` gives it a pseudo-terminal); resolves with what it wrote once `until` shows. */
function workerOnTerminal(env: Record<string, string>, until: RegExp, timeoutMs = 45_000): Promise<string> {
  const command = [process.execPath, "--import", TSX, resolve(ROOT, "src/cli/main.ts"), "worker"].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let seen = "";
  return new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${until} within ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    child.stdout!.on("data", (chunk) => {
      seen += chunk;
      if (until.test(seen)) {
        clearTimeout(timer);
        done(seen);
      }
    });
    child.once("exit", (code) => fail(new Error(`exited with ${code}:\n${seen}`)));
  }).finally(() => {
    // The whole group: script, and the herald under it.
    if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
  });
}

describe("development logs", { timeout: 90_000 }, () => {
  const env = testEnv({ LOG_LEVEL: "info", HERALD_DEV: "1" });
  const redis = new Redis(env.REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, env.HERALD_PREFIX);
    redis.disconnect();
  });

  it("are readable lines with HERALD_DEV=1 on a terminal", async () => {
    const out = (await workerOnTerminal(env, /workers started/)).replace(/\u001b\[[0-9;]*m/g, ""); // colours too
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(herald\): workers started$/m);
    expect(out).not.toContain('"msg":"workers started"');
  });

  it("stay JSON when stderr is not a terminal, HERALD_DEV=1 or not", async () => {
    const child = spawnCli(["worker"], env);
    try {
      await waitForLog(child, "workers started", 45_000);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
