import type { Config } from "../config.js";
import type { ChannelName } from "../contracts/index.js";
import type { Logger } from "../logger.js";
import { startWorkers, type RunningWorkers } from "../workers/start.js";
import { ensureRedis, type PrivateRedis } from "./private-redis.js";

export interface Service {
  workers: RunningWorkers;
  close(): Promise<void>;
}

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  redisExplicit: boolean;
  channels?: ChannelName[];
  concurrency?: number;
}

/** Workers (and, with `herald start`, everything else) in one process, with one orderly way down. */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, logger } = opts;
  const privateRedis: PrivateRedis | undefined = await ensureRedis({ url: config.REDIS_URL, explicit: opts.redisExplicit, dataDir: config.HERALD_DATA_DIR, logger });
  const concurrency = opts.concurrency ? { email: opts.concurrency, sms: opts.concurrency } : undefined;
  const workers = await startWorkers({ config, logger, channels: opts.channels, concurrency });
  return {
    workers,
    async close() {
      await workers.close();
      await privateRedis?.stop();
    },
  };
}

/** SIGTERM/SIGINT: stop taking jobs, finish the active ones, close pools; a second signal forces the exit. */
export function closeOnSignals(close: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without waiting for active jobs (they will be retried)");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down: finishing active jobs");
    close().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error) => {
        logger.error({ err: error }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
