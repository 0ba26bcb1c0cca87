import type { EventEmitter } from "node:events";
import { openDeliveryQueues } from "../queues/delivery-queues.js";
import { Queue } from "bullmq";
import Fastify, { LogController, type FastifyInstance, type onResponseAsyncHookHandler } from "fastify";
import type { RedisClient } from "../queues/connection.js";
import { HttpConfigError, type HttpConfig } from "../config/http.js";
import type { Logger } from "../logger.js";
import { HeraldMetrics } from "../metrics.js";
import type { DeadLetters } from "../queues/dead-letter.js";
import type { Suppressions } from "../queues/suppressions.js";
import { deliveryPrefixes, WEBHOOK_DEAD_LETTER_QUEUE, WEBHOOK_QUEUE } from "../queues/names.js";
import type { Herald } from "../queues/producer.js";
import type { Renderer } from "../templates/renderer.js";
import { adapters, mountedAdapters, type AdapterConfig } from "./adapters/index.js";
import { ApiAuth } from "./auth.js";
import { board } from "./board.js";
import { api } from "./plugins/api.js";
import { docs } from "./plugins/docs.js";
import { notFoundHandler, problemErrorHandler } from "./plugins/errors.js";
import { health } from "./plugins/health.js";
import { metricsRoute } from "./plugins/metrics.js";
import { previews } from "./previews.js";
import { ProviderReports } from "../queues/provider-reports.js";
import { WebhookDeadLetters, type WebhookPolicy } from "../queues/webhook-outbox.js";
import { twilioCallbacks, type TwilioCallbackOptions } from "./plugins/twilio-callbacks.js";
import { redisCheck, type ReadyCheck } from "./ready.js";

/** 64 KiB: a notification is a few hundred bytes; anything near this is a mistake or an attack. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const DEFAULT_REDIS_TIMEOUT_MS = 5000;

/** How long a client may take, and how many may be connected: slow or idle clients must not hold sockets forever. */
export interface ConnectionLimits {
  /** Whole request (headers and body) received within this; else 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** Headers received within this (from the connection's start, or the previous request's end). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic at all for this long is closed (longer than the slowest operation: bulk dead-letter work, 60 s). */
  idleTimeoutMs: number;
  /** Connections beyond this are closed at once. */
  maxConnections: number;
  /** How often Node checks the request and header timeouts (its default, 30 s, would let a slow client stay twice as long). */
  checkIntervalMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  maxConnections: 1_000,
  checkIntervalMs: 1_000,
};

export interface HttpServerOptions {
  /** From loadHttpConfig() (or the merged Config): tokens, board mode, dev flag. The port is for the caller's listen(). */
  config: Pick<HttpConfig, "HERALD_API_TOKENS" | "HERALD_BOARD_READONLY" | "HERALD_DEV"> & Partial<AdapterConfig>;
  /** The producer the API enqueues with. Left open on close (the caller owns it). */
  herald: Herald;
  /** Dead-letter queue access (list, replay, purge); its retry policy applies to replays. Left open on close. */
  deadLetters: DeadLetters;
  /** The suppression list, for its admin routes (/v1/suppressions); without it they are not served. Left open on close. */
  suppressions?: Suppressions;
  /** Redis connection for the status look-ups, the board and the queue-depth metrics. Left open on close. */
  connection: RedisClient;
  /** Queue prefix, e.g. `{herald}`. */
  prefix: string;
  /** HERALD_SHARDS: how many shards each delivery queue has (default 1). */
  shards?: number;
  /** RunningWorkers.events, when workers run in this process: feeds the delivery metrics. */
  events?: EventEmitter;
  /**
   * Readiness checks for /readyz by name, e.g. { redis: redisCheck(conn), workers: workersCheck(running.workers),
   * templates: templatesCheck(running.renderer) }. Default: { redis: redisCheck(connection) }.
   */
  ready?: Record<string, ReadyCheck>;
  logger: Logger;
  /** Metrics to expose on /metrics; default a new HeraldMetrics with its own Registry. */
  metrics?: HeraldMetrics;
  /** Request body limit for POST routes; default 64 KiB. */
  bodyLimit?: number;
  /**
   * Longest wait for Redis before a /v1 request answers 503 (BullMQ waits for a lost connection
   * rather than failing); default 5000 ms. Bulk dead-letter operations get 12 times as long.
   */
  redisTimeoutMs?: number;
  /** Request, header and keep-alive timeouts and the connection cap; each defaults to DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
  /** How long each /readyz check may take before it counts as failed; default 2000 ms. */
  readyTimeoutMs?: number;
  /**
   * The renderer the preview gallery at /admin/previews shows (the configured one: tenants file, template
   * overrides). Default: the built-in templates, compiled on the gallery's first request.
   */
  renderer?: Renderer;
  /**
   * /metrics needs a token of scope `metrics` or `admin` (Bearer). Set when the API listens beyond
   * loopback; default false (the caller decides, since only it knows the address it will listen on).
   */
  protectMetrics?: boolean;
  /**
   * Serve Twilio's status callbacks at /v1/callbacks/twilio (signature-checked, no bearer token): set when
   * HERALD_PUBLIC_URL and a Twilio auth token are configured. Absent: no such route.
   */
  twilioCallbacks?: Omit<TwilioCallbackOptions, "reports">;
  /**
   * When webhook endpoints are configured: the `webhooks` and `webhook-dead-letter` queues in Bull Board
   * and /metrics, and `/v1/webhooks/dead-letters` (list, replay) with this policy for replays.
   */
  webhooks?: WebhookPolicy;
}

export interface HeraldHttpServer extends FastifyInstance {
  /** The metrics served on /metrics (fed by the API's enqueues and `events`). */
  heraldMetrics: HeraldMetrics;
}

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/** One line per request, but none for the probes, the scrapes and the UIs' static files. */
const logRequest: onResponseAsyncHookHandler = async (request, reply) => {
  // The route pattern, or for an unmatched request its path: a query string may carry personal data.
  const url = request.routeOptions.url ?? request.url.split("?")[0] ?? "";
  if (OPS_PATHS.has(url) || url.startsWith("/admin/queues/static") || url.startsWith("/docs/static")) return;
  request.log.info({ method: request.method, route: url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "http request");
};

/**
 * Builds Herald's HTTP server: the /v1 API, /openapi.json and /docs, /healthz, /readyz, /metrics,
 * Bull Board at /admin/queues and the message preview gallery at /admin/previews. Returns it ready to
 * `listen()` (not listening). Throws HttpConfigError when no API token is configured and HERALD_DEV is
 * off. Closing it closes the queues it opened and detaches from `events`; Herald, DeadLetters and the
 * connection are the caller's to close.
 */
export async function createHttpServer(opts: HttpServerOptions): Promise<HeraldHttpServer> {
  const { config, logger } = opts;
  const auth = apiAuth(config, logger);
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const redisTimeoutMs = opts.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.connectionLimits };

  const queues = openQueues(opts);
  const metrics = opts.metrics ?? new HeraldMetrics({ deadLetters: opts.deadLetters, logger });
  metrics.watchQueues(queues.all);
  metrics.watchBreakers(() => opts.herald.limits.openBreakers());
  const detach = opts.events ? metrics.attach(opts.events) : undefined;

  const app = Fastify({
    loggerInstance: logger,
    // One line per API request from logRequest instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Generated ids rather than a client's header: they go into logs.
    requestIdHeader: false,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.checkIntervalMs },
  }) as unknown as FastifyInstance;
  app.server.maxConnections = limits.maxConnections;

  // Bodies and queries are validated with the zod contracts in the handlers (so errors match the SDK);
  // the JSON Schemas on the routes are documentation, and responses are built field by field.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.addHook("onClose", async () => {
    detach?.();
    metrics.unwatchQueues(queues.all);
    metrics.watchBreakers(undefined);
    await queues.close();
  });
  app.addHook("onResponse", logRequest);
  app.setErrorHandler(problemErrorHandler(bodyLimit));
  app.setNotFoundHandler(notFoundHandler);

  await docs(app);
  const reports = new ProviderReports(opts.connection, opts.prefix);
  const status = { queues: queues.delivery, deadLetters: opts.deadLetters, connection: opts.connection, reports };
  const webhookDeadLetters = opts.webhooks ? new WebhookDeadLetters(opts.connection, opts.prefix, opts.webhooks) : undefined;
  if (webhookDeadLetters) app.addHook("onClose", () => webhookDeadLetters.close());
  await app.register(api, {
    prefix: "/v1",
    auth,
    herald: opts.herald,
    status,
    deadLetters: opts.deadLetters,
    metrics,
    suppressions: opts.suppressions,
    bodyLimit,
    redisTimeoutMs,
    ...(webhookDeadLetters ? { webhookDeadLetters } : {}),
  });
  // The identity-server adapters: beside /v1's Bearer tokens, each checking its own server's signature.
  await app.register(adapters, { prefix: "/v1/adapters", config: adapterConfig(config), herald: opts.herald, metrics, logger, redisTimeoutMs });
  const mounted = mountedAdapters(config);
  if (mounted.length > 0) logger.info({ adapters: mounted }, "identity-server adapters mounted");
  // Beside /v1, not inside it: Twilio signs its callbacks and sends no bearer token.
  if (opts.twilioCallbacks) await app.register(twilioCallbacks, { prefix: "/v1", ...opts.twilioCallbacks, reports });
  await app.register(health, { checks: opts.ready ?? { redis: redisCheck(opts.connection) }, readyTimeoutMs: opts.readyTimeoutMs ?? 2000 });
  await app.register(metricsRoute, { metrics, auth, protect: opts.protectMetrics ?? false });
  await app.register(board, { queues: queues.all, basePrefix: opts.prefix, readOnly: config.HERALD_BOARD_READONLY, auth });
  await app.register(previews, { auth, renderer: opts.renderer });

  const server = app as HeraldHttpServer;
  server.decorate("heraldMetrics", metrics);
  return server;
}

function adapterConfig(config: HttpServerOptions["config"]): AdapterConfig {
  return {
    HERALD_ZITADEL_SIGNING_KEY: config.HERALD_ZITADEL_SIGNING_KEY,
    HERALD_SUPABASE_HOOK_SECRET: config.HERALD_SUPABASE_HOOK_SECRET,
    HERALD_KRATOS_API_KEY: config.HERALD_KRATOS_API_KEY,
    HERALD_ADAPTER_TENANT: config.HERALD_ADAPTER_TENANT,
  };
}

/** The token check for every route; fails closed without tokens unless HERALD_DEV is on, and says so loudly. */
function apiAuth(config: HttpServerOptions["config"], logger: Logger): ApiAuth {
  const tokens = config.HERALD_API_TOKENS;
  if (tokens.length === 0 && !config.HERALD_DEV) {
    throw new HttpConfigError(
      "HERALD_API_TOKENS is not set: the HTTP API will not start without tokens. Set e.g. HERALD_API_TOKENS=enqueue:<random>,admin:<random> (openssl rand -hex 32), or HERALD_DEV=1 to run it open on a development machine.",
    );
  }
  const open = tokens.length === 0;
  if (open) {
    logger.warn(
      "!!! HERALD_DEV=1 and no HERALD_API_TOKENS: the HTTP API, dead-letter admin and Bull Board are OPEN to anyone who can reach this port. Never run like this in production. !!!",
    );
  }
  if (!tokens.some((t) => t.scope === "admin") && !open) {
    logger.warn("no admin token in HERALD_API_TOKENS: dead-letter routes and Bull Board will refuse every request");
  }
  return new ApiAuth(tokens, open);
}

/** The delivery queues (opened here, closed with the server) and the dead-letter queue (the caller's). */
function openQueues(opts: HttpServerOptions) {
  // Every shard's queues (HERALD_SHARDS): status look-ups ask them all, metrics add them up, the board lists each.
  const delivery = openDeliveryQueues(opts.connection, deliveryPrefixes(opts.prefix, opts.shards ?? 1));
  const webhooks = opts.webhooks
    ? [WEBHOOK_QUEUE, WEBHOOK_DEAD_LETTER_QUEUE].map((name) => new Queue(name, { connection: opts.connection, prefix: opts.prefix }))
    : [];
  const all = [...delivery, opts.deadLetters.queue, ...webhooks];
  // Without a listener BullMQ prints every connection error to the console; log them, once a minute at most.
  const lastLogged = new Map<string, number>();
  const onQueueError = (queue: Queue) => (error: Error) => {
    const now = Date.now();
    if (now - (lastLogged.get(queue.name) ?? 0) < 60_000) return;
    lastLogged.set(queue.name, now);
    opts.logger.error({ err: error, queue: queue.name }, "queue connection error (repeats are not logged for a minute)");
  };
  const offs = all.map((queue) => {
    const handler = onQueueError(queue);
    queue.on("error", handler);
    return () => queue.off("error", handler);
  });
  return {
    delivery,
    all,
    close: async () => {
      offs.forEach((off) => off());
      await Promise.all([...delivery, ...webhooks].map((q) => q.close()));
    },
  };
}
