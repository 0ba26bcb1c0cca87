import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../logger.js";

/** How long a worker process that died is left down before it is started again. */
const RESTART_DELAY_MS = 1000;

/**
 * `herald worker --processes N`: N worker processes (node:cluster) on one machine, so a worker uses every
 * core (one Node process renders and encodes on one). The primary only supervises: it starts the
 * processes, starts one again when it dies, and on SIGTERM/SIGINT asks each to shut down as a single
 * worker would (finish active jobs) and exits when all have. Each process takes jobs from Redis on its own,
 * exactly like N separate `herald worker` processes.
 */
export function superviseWorkers(processes: number, logger: Logger): void {
  let stopping = false;
  const fork = () => {
    const worker: Worker = cluster.fork();
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      logger.error({ pid: worker.process.pid, code, signal }, `worker process exited; starting another in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => stopping || fork(), RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < processes; i++) fork();
  logger.info({ processes }, "worker processes starting");
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal forces, as in a single worker.
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down worker processes");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  cluster.on("exit", () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) {
      logger.info("stopped");
      process.exit(0);
    }
  });
}
