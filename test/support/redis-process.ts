import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/** A real `redis-server` of the test's own, on a free loopback port, for fault scenarios. */
export interface RedisProcess {
  url: string;
  port: number;
  /** SIGSTOP: the server keeps its connections open but answers nothing (a stalled Redis). */
  pause(): void;
  /** SIGCONT: it answers again, including what it was sent while paused. */
  resume(): void;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop()); resolves once it accepts connections. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedisProcess(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    if (running()) return;
    const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child = proc;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      proc.once("exit", (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${output}`)));
      proc.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) resolve();
      });
    });
    proc.stdout!.resume();
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    async stop() {
      const proc = child;
      if (!proc || !running()) return;
      proc.kill("SIGCONT");
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
    },
    start,
  };
}
