import type { FastifyInstance } from "fastify";
import type { Config } from "../config.js";
import type { ChannelName } from "../contracts/index.js";
import { createHttpServer, HttpConfigError, redisCheck, templatesCheck, workersCheck } from "../http/index.js";
import type { Logger } from "../logger.js";
import { createRedis } from "../queues/connection.js";
import { DeadLetters } from "../queues/dead-letter.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { Herald } from "../queues/producer.js";
import { loadRenderer } from "../templates/load.js";
import { startWorkers, type RunningWorkers } from "../workers/start.js";
import { ensureRedis } from "./private-redis.js";

export interface Service {
  workers?: RunningWorkers;
  http?: FastifyInstance;
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080 */
  url?: string;
  close(): Promise<void>;
}

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  redisExplicit: boolean;
  /** Run delivery workers (herald start, herald worker). */
  workers: boolean;
  /** Serve the HTTP API, Bull Board, /metrics (herald start, herald api). */
  http: boolean;
  channels?: ChannelName[];
  concurrency?: number;
}

/** Herald's long-running parts in one process, with one orderly way down (the reverse of the way up). */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, logger } = opts;
  if (opts.http && config.HERALD_API_TOKENS.length === 0 && !config.HERALD_DEV) {
    // Said before anything starts, rather than after the workers already took jobs.
    throw new HttpConfigError(
      "HERALD_API_TOKENS is not set: the HTTP API will not start without tokens. Set e.g. HERALD_API_TOKENS=enqueue:<random>,admin:<random> (openssl rand -hex 32), or HERALD_DEV=1 to run it open on a development machine.",
    );
  }
  const privateRedis = await ensureRedis({ url: config.REDIS_URL, explicit: opts.redisExplicit, dataDir: config.HERALD_DATA_DIR, logger });
  const closers: (() => Promise<unknown>)[] = [];
  if (privateRedis) closers.push(() => privateRedis.stop());
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((error) => logger.error({ err: error }, "error while shutting down"));
    }
  };

  try {
    let workers: RunningWorkers | undefined;
    if (opts.workers) {
      const concurrency = opts.concurrency ? { email: opts.concurrency, sms: opts.concurrency } : undefined;
      workers = await startWorkers({ config, logger, channels: opts.channels, concurrency });
      closers.push(() => workers!.close());
    }
    if (!opts.http) {
      if (workers && config.HERALD_METRICS_PORT !== undefined) {
        const { serveWorkerMetrics } = await import("./worker-metrics.js");
        const server = await serveWorkerMetrics(workers, { port: config.HERALD_METRICS_PORT, host: config.HERALD_HTTP_HOST ?? "0.0.0.0", logger });
        closers.push(() => server.close());
      }
      return { workers, close };
    }

    const connection = createRedis(config.REDIS_URL, "producer");
    connection.on("error", () => {}); // reported by the queues' own listeners and /readyz
    closers.push(async () => connection.quit().catch(() => connection.disconnect()));
    const herald = new Herald({
      redis: connection,
      prefix: config.HERALD_PREFIX,
      encryptionKey: config.HERALD_ENCRYPTION_KEY,
      dataDir: config.HERALD_DATA_DIR,
      retry: retryPolicyOf(config),
      // The workers already warned about the dev key file when they run in this process.
      onWarning: (message) => workers || logger.warn(message),
    });
    closers.push(() => herald.close());
    const deadLetters = new DeadLetters(connection, config.HERALD_PREFIX, retryPolicyOf(config));
    closers.push(() => deadLetters.close());
    const ready = {
      redis: redisCheck(connection),
      ...(workers ? { workers: workersCheck(workers.workers), templates: templatesCheck(workers.renderer) } : {}),
    };
    // The preview gallery shows mails as this process would send them (tenants file and overrides included).
    const renderer = workers?.renderer ?? (await loadRenderer(config));
    const http = await createHttpServer({ config, herald, deadLetters, connection, prefix: config.HERALD_PREFIX, events: workers?.events, ready, logger, renderer });
    // The API closes first on the way down: no new work is accepted while the workers finish theirs.
    closers.push(() => http.close());
    const url = await http.listen({ port: config.HERALD_HTTP_PORT, host: config.httpHost });
    logger.info({ address: url, board: "/admin/queues", docs: "/docs" }, "http server listening");
    return { workers, http, url, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** SIGTERM/SIGINT: stop taking jobs, finish the active ones, close pools; a second signal forces the exit. */
export function closeOnSignals(close: () => Promise<void>, logger: Logger): void {
  let stoppingSince = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince) {
      // Ctrl-C under `npm start` reaches us twice at once (the terminal's and npm's copy): only a later one forces.
      if (Date.now() - stoppingSince < 1000) return;
      logger.warn({ signal }, "second signal: exiting without waiting for active jobs (they will be retried)");
      process.exit(1);
    }
    stoppingSince = Date.now();
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
