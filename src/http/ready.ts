import type { Worker } from "bullmq";
import type { RedisClient } from "../queues/connection.js";

/** What a check may report beside pass/fail: `{ ok: true, detail }` passes but says something (a warning). */
export type ReadyOutcome = boolean | string | undefined | { ok: boolean; detail?: string };

/** A readiness check: resolves true/undefined when fine; false, a message or a throw when not. */
export type ReadyCheck = () => ReadyOutcome | Promise<ReadyOutcome>;

export interface ReadyResult {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/** Runs every check at once, each bounded by the timeout. */
export async function runReadyChecks(checks: Record<string, ReadyCheck>, timeoutMs = 2000): Promise<ReadyResult> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          Promise.resolve().then(check),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
          }),
        ]);
        if (outcome === false) return [name, { ok: false, detail: "not ready" }] as const;
        if (typeof outcome === "string") return [name, { ok: false, detail: outcome }] as const;
        if (outcome && typeof outcome === "object") return [name, { ok: outcome.ok, ...(outcome.detail ? { detail: outcome.detail } : {}) }] as const;
        return [name, { ok: true }] as const;
      } catch (error) {
        return [name, { ok: false, detail: (error as Error)?.message ?? String(error) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
}

/** Redis answers PING on this connection. */
export function redisCheck(connection: RedisClient): ReadyCheck {
  return async () => ((await connection.ping()) === "PONG" ? true : "Redis did not answer PONG");
}

/** Every worker runs and is not closing (pass RunningWorkers.workers). */
export function workersCheck(workers: readonly Worker[]): ReadyCheck {
  return () => {
    if (workers.length === 0) return "no workers";
    const stopped = workers.filter((w) => !w.isRunning() || w.closing).map((w) => w.name);
    return stopped.length === 0 ? true : `not running: ${stopped.join(", ")}`;
  };
}

/** Templates compiled: true once a renderer exists (startWorkers compiles them before it returns). */
export function templatesCheck(renderer: unknown): ReadyCheck {
  return () => (renderer ? true : "templates not compiled");
}
