import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
const TSX = resolve(ROOT, "node_modules/tsx/dist/loader.mjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (`src/cli/main.ts`) in a child process, as a user would. */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawnCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin!.end(input ?? "");
  });
}

export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", TSX, resolve(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * Resolves when the child's log (stderr, pino JSON) has a line with this message. The bound is generous:
 * on a loaded 2-core machine tsx alone needs 15–20 s before `herald start` logs anything.
 */
export function waitForLog(child: ChildProcess, msg: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((done, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`no "${msg}" log line within ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk;
      if (seen.includes(`"msg":"${msg}"`)) {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        done();
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code) => fail(new Error(`exited with ${code} before "${msg}":\n${seen}`)));
  });
}
