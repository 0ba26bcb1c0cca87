import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "../logger.js";
import { redisAnswers } from "../queues/connection.js";

export interface PrivateRedis {
  stop(): Promise<void>;
}

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/**
 * For `herald start` on a laptop: if nothing answers at the default Redis address and `redis-server` is
 * installed, run one with append-only persistence under the data dir (jobs survive a restart).
 * Never when REDIS_URL was set explicitly: then a missing Redis is an error the operator must see.
 */
export async function ensureRedis(opts: { url: string; explicit: boolean; dataDir: string; logger: Logger }): Promise<PrivateRedis | undefined> {
  if (await redisAnswers(opts.url)) return undefined;
  const where = new URL(opts.url);
  if (opts.explicit || !onPath("redis-server")) {
    throw new Error(`no Redis answers at ${where.host}${opts.explicit ? " (REDIS_URL)" : "; install redis-server or set REDIS_URL"}`);
  }
  const dir = resolve(opts.dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", where.port || "6379", "--bind", where.hostname, "--dir", dir, "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  for (let i = 0; i < 50 && !(await redisAnswers(opts.url, 200)); i++) {
    await new Promise((r) => setTimeout(r, 100)); // waiting for an external process to bind; no event to await
  }
  if (!(await redisAnswers(opts.url))) {
    child.kill();
    throw new Error(`started redis-server for ${where.host}, but it does not answer`);
  }
  opts.logger.warn({ redis: where.host, dir }, "no Redis was running: started a private redis-server (append-only files in the data dir); set REDIS_URL to use your own");
  return {
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
