import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { loadConfig } from "../../src/config/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_TIMEOUT_MS, CONNECT_TIMEOUT_MS, connectRedis, RedisUnavailableError, withRedis } from "../../src/cli/redis.js";
import { runCli } from "../support/cli.js";
import { testEnv } from "../support/herald.js";

/** A port nothing listens on: bound, read, released. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

const job = { recipient: { userId: "u1", email: "ada@example.com" }, code: "DOWN-1", url: "https://login.example.com/r" };
const id = "00000000-0000-4000-8000-000000000001";

const COMMANDS: [string, string[]][] = [
  ["status", ["status", id]],
  ["queues", ["queues"]],
  ["dlq list", ["dlq", "list"]],
  ["dlq show", ["dlq", "show", `email-${id}`]],
  ["dlq replay <id>", ["dlq", "replay", `email-${id}`]],
  ["dlq replay --all", ["dlq", "replay", "--all"]],
  ["dlq purge --class", ["dlq", "purge", "--class", "permanent"]],
  ["send", ["send", "password-reset", "--data", JSON.stringify(job)]],
];

// Each run is a fresh Node process (1 to 6 s on a busy machine before Herald's code even runs); before
// the fix these commands hung for minutes. The connect bound itself is measured in-process below.
describe("CLI commands when Redis is down", { timeout: 120_000 }, () => {
  let env: Record<string, string>;
  let url: string;
  beforeAll(async () => {
    url = `redis://:not-shown@127.0.0.1:${await freePort()}`;
    env = testEnv({ REDIS_URL: url, LOG_LEVEL: "info" });
  });

  for (const [name, args] of COMMANDS) {
    it(`${name}: exits 1 within seconds with one line naming REDIS_URL, no stack trace`, async () => {
      const started = Date.now();
      const result = await runCli(args, env);
      const ms = Date.now() - started;
      expect(result.code).toBe(1);
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: Redis at REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ does not answer \(connect ECONNREFUSED/);
      expect(result.stderr).not.toMatch(/not-shown|\n\s+at /);
      expect(result.stdout).toBe("");
      expect(ms).toBeLessThan(30_000);
    });
  }
});

describe("connectRedis", { timeout: 30_000 }, () => {
  // A server that accepts connections and never answers: a hung Redis, or the wrong service on the port.
  let silent: Server;
  const sockets: Socket[] = [];
  let port: number;
  beforeAll(async () => {
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    port = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((done) => silent.close(done));
  });

  it("gives up on a connection refused at once", async () => {
    const started = Date.now();
    await expect(connectRedis(`redis://127.0.0.1:${await freePort()}`)).rejects.toThrow(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(CONNECT_TIMEOUT_MS);
  });

  it("gives up on a server that never answers within the connect timeout", async () => {
    const started = Date.now();
    const error = await connectRedis(`redis://127.0.0.1:${port}`).catch((e: Error) => e);
    const ms = Date.now() - started;
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/REDIS_URL=redis:\/\/127\.0\.0\.1:\d+ does not answer/);
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS + 3000);
  });
});

/** A real redis-server of the test's own on a free port, resolved once it says it is ready. */
async function startRedis(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  await new Promise<void>((ready, fail) => {
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("Ready to accept connections")) ready();
    });
    child.once("exit", (code) => fail(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return { child, url: `redis://127.0.0.1:${port}` };
}

describe("a Redis that goes away in the middle of a command", { timeout: 60_000 }, () => {
  const servers: ChildProcess[] = [];
  afterAll(() => {
    for (const child of servers) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  });

  it("killed: the command fails at once with the one-line error", async () => {
    const redis = await startRedis();
    servers.push(redis.child);
    const config = loadConfig(testEnv({ REDIS_URL: redis.url }));
    const started = Date.now();
    const error = await withRedis(config, async (ops) => {
      redis.child.kill("SIGKILL");
      await once(redis.child, "exit");
      return ops.queues[0]!.getJobCounts("waiting");
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/^Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:\d+ stopped answering \(/);
    expect(Date.now() - started).toBeLessThan(CONNECT_TIMEOUT_MS);
  });

  it("frozen (SIGSTOP): the command gives up after the command timeout", async () => {
    const redis = await startRedis();
    servers.push(redis.child);
    const config = loadConfig(testEnv({ REDIS_URL: redis.url }));
    let frozenAt = 0;
    const error = await withRedis(config, async (ops) => {
      redis.child.kill("SIGSTOP");
      frozenAt = Date.now();
      return ops.deadLetters.list();
    }).catch((e: Error) => e);
    const ms = Date.now() - frozenAt;
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toMatch(/stopped answering \(Command timed out\)/);
    expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + 5000);
  });
});
