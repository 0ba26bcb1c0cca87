import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "../logger.js";
import { Redis } from "ioredis";
import { redisAnswers, type RedisTarget } from "../queues/connection.js";
import { connectRedis } from "./redis.js";

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
export async function ensureRedis(opts: {
  url: string;
  /** The connection settings (TLS files included), when there is more to them than the URL. */
  target?: RedisTarget;
  explicit: boolean;
  dataDir: string;
  logger: Logger;
}): Promise<PrivateRedis | undefined> {
  if (await redisAnswers(opts.target ?? opts.url)) {
    const issue = await databaseIssue(opts.url);
    if (issue) throw new Error(issue);
    return undefined;
  }
  const where = new URL(opts.url);
  // Over TLS the reason matters (a certificate refused is not a server missing): say it, naming the variable.
  if (opts.explicit && opts.target?.tls) (await connectRedis(opts.target)).disconnect();
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
  opts.logger.warn(
    { redis: where.host, dir },
    "no Redis was running: started a private redis-server (append-only files in the data dir); set REDIS_URL to use your own",
  );
  return {
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * A database index the server does not have (`redis://host:6379/99` with the default 16) fails the SELECT
 * that ioredis sends on every connect; the client then carries on, and BullMQ's workers never become ready.
 * Said once at start instead.
 */
export async function databaseIssue(url: string): Promise<string | undefined> {
  const db = Number(new URL(url).pathname.slice(1) || "0");
  if (!db) return undefined;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  let refused: string | undefined;
  client.on("error", (error: Error) => {
    if (/DB index|SELECT/i.test(error.message)) refused = error.message;
  });
  try {
    await client.connect();
    await client.ping(); // answered after the SELECT, so its error (if any) has been seen
  } catch {
    // Not reachable: reported by the caller's own connection.
  } finally {
    client.disconnect();
  }
  return (
    refused &&
    `REDIS_URL selects database ${db}, which this Redis refuses (${refused}); use a database number below its \`databases\` setting (16 by default), e.g. redis://${new URL(url).host}/0`
  );
}
