import type { FastifyInstance } from "fastify";
import { ConfigError, providerIssues, type Config } from "../config/index.js";
import { CHANNELS, type ChannelName } from "../contracts/index.js";
import { HttpConfigError, isLoopback, openApiExposureIssue } from "../config/http.js";
import type { Logger } from "../logger.js";
import { createRedis, redisTarget } from "../queues/connection.js";
import { DeadLetters } from "../queues/dead-letter.js";
import type { AppliedReport } from "../http/plugins/twilio-callbacks.js";
import { apiEvents } from "./api-events.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { Suppressions } from "../queues/suppressions.js";
import { KeyError, loadKey } from "../secrets/key.js";
import { loadRenderer } from "../templates/load.js";
import { startWorkers, type RunningWorkers } from "../workers/start.js";
import { ensureRedis } from "./private-redis.js";
import { tracingWanted } from "../telemetry/tracing.js";
import { heraldFor } from "./send.js";
import { connectRedis } from "./redis.js";

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
  /**
   * Told when Twilio reports an SMS undelivered with a permanent error code (unknown or unreachable
   * number, landline, opted out), after the number was put on the suppression list.
   */
  onUndeliverable?: (report: AppliedReport) => Promise<void>;
}

/** Herald's long-running parts in one process, with one orderly way down (the reverse of the way up). */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, logger } = opts;
  // Everything that can be told from the settings alone is said before anything starts, rather than
  // after the workers already took jobs.
  if (opts.http && config.HERALD_API_TOKENS.length === 0 && !config.HERALD_DEV) {
    throw new HttpConfigError(
      "HERALD_API_TOKENS is not set: the HTTP API will not start without tokens. Set e.g. HERALD_API_TOKENS=enqueue:<random>,admin:<random> (openssl rand -hex 32), or HERALD_DEV=1 to run it open on a development machine.",
    );
  }
  const exposure = opts.http ? openApiExposureIssue(config, config.httpHost) : undefined;
  if (exposure) throw new HttpConfigError(exposure);
  if (opts.workers) {
    const issues = providerIssues(config, opts.channels ?? CHANNELS);
    if (issues.length > 0) throw new ConfigError(issues.join("\n"));
  }
  // Workers and the API's producer need the key; the API alone could start without one, but every enqueue would fail.
  let key: ReturnType<typeof loadKey>["key"];
  try {
    ({ key } = loadKey({
      HERALD_ENCRYPTION_KEY: config.HERALD_ENCRYPTION_KEY,
      HERALD_ENCRYPTION_KEYS: config.HERALD_ENCRYPTION_KEYS,
      dev: config.HERALD_DEV,
      dataDir: config.HERALD_DATA_DIR,
    }));
  } catch (error) {
    throw error instanceof KeyError ? new ConfigError(error.message) : error;
  }
  for (const warning of (config as { warnings?: string[] }).warnings ?? []) logger.warn(warning);
  if (!config.HERALD_DEV && !config.HERALD_SMS_ALLOWED_COUNTRIES && (opts.http || (opts.channels ?? CHANNELS).includes("sms"))) {
    logger.warn(
      "!!! HERALD_SMS_ALLOWED_COUNTRIES is not set: SMS may go to every country, which is how SMS-pumping fraud runs up a bill. Set it to the countries your users live in, e.g. HERALD_SMS_ALLOWED_COUNTRIES=CH,DE,AT !!!",
    );
  }
  // A Cluster or Sentinel is never replaced by a private server: it must answer as configured.
  const single = !config.REDIS_CLUSTER_NODES && !config.REDIS_SENTINELS;
  const privateRedis = single
    ? await ensureRedis({ url: config.REDIS_URL, target: redisTarget(config), explicit: opts.redisExplicit, dataDir: config.HERALD_DATA_DIR, logger })
    : undefined;
  // Fails within seconds naming REDIS_CLUSTER_NODES or REDIS_SENTINELS (the workers would wait for ever).
  if (!single) (await connectRedis(redisTarget(config))).disconnect();
  const closers: (() => Promise<unknown>)[] = [];
  if (privateRedis) closers.push(() => privateRedis.stop());
  // Before any queue or worker is created: they check once whether a tracer is registered.
  if (tracingWanted(config.HERALD_OTEL, process.env)) {
    const { startTracing } = await import("../telemetry/sdk.js");
    const tracing = await startTracing(process.env);
    closers.push(() => tracing.shutdown());
    logger.info({ endpoint: tracing.endpoint }, "OpenTelemetry: traces exported over OTLP");
  }
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
        const server = await listening("HERALD_METRICS_PORT", config.HERALD_METRICS_HOST, config.HERALD_METRICS_PORT, () =>
          serveWorkerMetrics(workers!, { port: config.HERALD_METRICS_PORT!, host: config.HERALD_METRICS_HOST, logger }),
        );
        closers.push(() => server.close());
      }
      return { workers, close };
    }

    // Loaded only here: `herald worker` never loads Fastify, Swagger or Bull Board (≈25 MB and a few hundred ms).
    const { createHttpServer, redisCheck, templatesCheck, workersCheck } = await import("../http/index.js");
    const connection = createRedis(redisTarget(config), "producer");
    connection.on("error", () => {}); // reported by the queues' own listeners and /readyz
    closers.push(async () => connection.quit().catch(() => connection.disconnect()));
    // The workers already warned about the dev key file when they run in this process.
    const herald = heraldFor({ config, connection }, (message) => {
      if (!workers) logger.warn(message);
    });
    closers.push(() => herald.close());
    const suppressions = new Suppressions(connection, config.HERALD_PREFIX, key, config.HERALD_SUPPRESSION_TTL_DAYS);
    const events = apiEvents(config, connection, logger, { suppressions, onUndeliverable: opts.onUndeliverable });
    closers.push(() => events.close());
    const deadLetters = new DeadLetters(connection, config.HERALD_PREFIX, retryPolicyOf(config), events.onReplayed);
    closers.push(() => deadLetters.close());
    const ready = {
      redis: redisCheck(connection),
      ...(workers ? { workers: workersCheck(workers.workers), templates: templatesCheck(workers.renderer) } : {}),
      // Reported, never failing: a relay outage must not take the API out of its load balancer.
      ...(workers?.providerChecks.email ? { smtp: () => ({ ok: true, detail: workers!.providerChecks.email!.detail }) } : {}),
    };
    // The preview gallery shows mails as this process would send them (tenants file and overrides included).
    const renderer = workers?.renderer ?? (await loadRenderer(config));
    const http = await createHttpServer({
      config,
      herald,
      deadLetters,
      connection,
      prefix: config.HERALD_PREFIX,
      suppressions,
      shards: config.HERALD_SHARDS,
      events: workers?.events,
      ready,
      logger,
      renderer,
      // Loopback (a sidecar, a node agent) may scrape freely; beyond it /metrics needs a metrics or admin token.
      protectMetrics: !isLoopback(config.httpHost) && config.HERALD_API_TOKENS.length > 0,
      webhooks: events.webhooks,
      twilioCallbacks: events.twilioCallbacks,
    });
    // The API closes first on the way down: no new work is accepted while the workers finish theirs.
    closers.push(() => http.close());
    const url = await listening("HERALD_HTTP_PORT", config.httpHost, config.HERALD_HTTP_PORT, () =>
      http.listen({ port: config.HERALD_HTTP_PORT, host: config.httpHost }),
    );
    logger.info({ address: url, board: "/admin/queues", docs: "/docs" }, "http server listening");
    return { workers, http, url, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A port another process holds is one clear line naming the variable, not a stack trace. */
async function listening<T>(variable: string, host: string, port: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new ConfigError(`${variable}: port ${port} on ${host} is already in use by another process; stop it or choose another ${variable}`);
    if (code === "EADDRNOTAVAIL") throw new ConfigError(`${variable.replace("PORT", "HOST")}: ${host} is not an address of this machine`);
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
