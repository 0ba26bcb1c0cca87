import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

/**
 * A private `redis-server` process for fault tests: `noeviction`, on a free port, in a temporary folder,
 * with the append-only file on unless asked otherwise. It can be killed (-9) or shut down and started
 * again on the same port and files, or paused.
 */
export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  /** The running process's pid (changes on restart). */
  readonly pid: number;
  /** kill -9: no shutdown, no final save; only what reached the append-only file survives. */
  kill9(): Promise<void>;
  /** SIGTERM: a clean shutdown (Redis flushes its append-only file first); waits for the exit. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and folder (it reloads the append-only file); a no-op while it runs. */
  restart(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing, like a Redis stuck on a slow disk. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops it (even if paused) and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the OS picks it; a tiny race with other processes is accepted). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface RedisServerOptions {
  /** Keep an append-only file (default), so a restart finds what was acknowledged; off, a restart starts empty. */
  appendOnly?: boolean;
  /**
   * `everysec` (Redis' default) or `always`. With everysec Redis answers before the write reaches the
   * OS whenever the previous fsync is still running (a busy disk): it holds the AOF buffer in memory
   * for up to 2 s, so even a killed *process* can lose acknowledged writes. Only `always` rules that out.
   */
  appendFsync?: "everysec" | "always";
  /** More arguments, e.g. `--cluster-enabled yes` or `--replicaof 127.0.0.1 6380`. */
  args?: (port: number, dir: string) => string[];
  /** A configuration file's text (written to the folder and given first): what a sentinel needs, it rewrites it. */
  config?: (port: number, dir: string) => string;
  /** Run as a sentinel (`--sentinel`). */
  sentinel?: boolean;
  /** Listen with TLS on this port instead of plain TCP (`--port 0 --tls-port`); the URL is then rediss://. */
  tls?: { cert: string; key: string; ca: string };
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "herald-redis-"));
  const url = `${opts.tls ? "rediss" : "redis"}://127.0.0.1:${port}`;
  const configFile = join(dir, "redis.conf");
  if (opts.config) writeFileSync(configFile, opts.config(port, dir));
  let child: ChildProcess | undefined;
  let stopped = false;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = async () => {
    child = spawn(
      "redis-server",
      [
        ...(opts.config ? [configFile] : []),
        ...(opts.sentinel ? ["--sentinel"] : []),
        ...(opts.tls
          ? [
              "--port",
              "0",
              "--tls-port",
              String(port),
              "--tls-cert-file",
              opts.tls.cert,
              "--tls-key-file",
              opts.tls.key,
              "--tls-ca-cert-file",
              opts.tls.ca,
              "--tls-auth-clients",
              "no",
            ]
          : ["--port", String(port)]),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        opts.appendOnly === false ? "no" : "yes",
        "--appendfsync",
        opts.appendFsync ?? "everysec",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
        ...(opts.args?.(port, dir) ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout!.on("data", (c) => (log += c));
    child.stderr!.on("data", (c) => (log += c));
    const exited = once(child, "exit").then(() => {
      throw new Error(`redis-server on ${port} exited at start:\n${log}`);
    });
    // "Ready to accept connections" is printed once the append-only file is loaded.
    const ready = new Promise<void>((done) => {
      const onData = () => {
        if (/Ready to accept connections|\+monitor master/.test(log)) {
          child!.stdout!.off("data", onData);
          done();
        }
      };
      child!.stdout!.on("data", onData);
    });
    await Promise.race([ready, exited]);
    exited.catch(() => {});
  };
  await launch();

  const kill = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc || !running()) return;
    const exited = once(proc, "exit");
    proc.kill("SIGCONT"); // a stopped process would not act on SIGTERM
    proc.kill(signal);
    await exited;
  };

  return {
    url,
    port,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    kill9: () => kill("SIGKILL"),
    shutdown: () => kill("SIGTERM"),
    async restart() {
      if (stopped) throw new Error("restart after stop");
      if (!running()) await launch();
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Redis' own view of its persistence settings, for asserting a test runs with what the README asks of operators. */
export async function persistenceSettings(url: string): Promise<{ appendonly: string; appendfsync: string; maxmemoryPolicy: string }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const [, appendonly] = (await client.config("GET", "appendonly")) as [string, string];
    const [, appendfsync] = (await client.config("GET", "appendfsync")) as [string, string];
    const [, maxmemoryPolicy] = (await client.config("GET", "maxmemory-policy")) as [string, string];
    return { appendonly, appendfsync, maxmemoryPolicy };
  } finally {
    client.disconnect();
  }
}
