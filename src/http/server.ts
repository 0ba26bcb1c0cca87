import type { EventEmitter } from "node:events";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { Queue } from "bullmq";
import Fastify, { LogController, type FastifyError, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import type { Renderer } from "../templates/renderer.js";
import { HeraldMetrics } from "../metrics.js";
import type { DeadLetters } from "../queues/dead-letter.js";
import { DELIVERY_QUEUES } from "../queues/names.js";
import { EnqueueError, type Herald } from "../queues/producer.js";
import { allows, ApiAuth } from "./auth.js";
import { registerBoard } from "./board.js";
import { registerPreviews } from "./previews.js";
import { DeadlineError } from "../queues/deadline.js";
import { HttpConfigError, type ApiScope, type HttpConfig } from "../config/http.js";
import { jsonResponse } from "./openapi.js";
import { PROBLEM_TYPES, sendProblem } from "./problem.js";
import { redisCheck, runReadyChecks, type ReadyCheck } from "./ready.js";
import { deadLetterRoutes } from "./routes/dead-letters.js";
import { notificationRoutes, REQUEST_ID_HEADER } from "./routes/notifications.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a /v1 route needs; admin when absent. */
    scope?: ApiScope;
  }
}

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
  config: Pick<HttpConfig, "HERALD_API_TOKENS" | "HERALD_BOARD_READONLY" | "HERALD_DEV">;
  /** The producer the API enqueues with. Left open on close (the caller owns it). */
  herald: Herald;
  /** Dead-letter queue access (list, replay, purge); its retry policy applies to replays. Left open on close. */
  deadLetters: DeadLetters;
  /** Redis connection for the status look-ups, the board and the queue-depth metrics. Left open on close. */
  connection: Redis;
  /** Queue prefix, e.g. `{herald}`. */
  prefix: string;
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
}

export interface HeraldHttpServer extends FastifyInstance {
  /** The metrics served on /metrics (fed by the API's enqueues and `events`). */
  heraldMetrics: HeraldMetrics;
}

const OPS_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Builds Herald's HTTP server: the /v1 API, /openapi.json and /docs, /healthz, /readyz, /metrics,
 * Bull Board at /admin/queues and the message preview gallery at /admin/previews. Returns it ready to
 * `listen()` (not listening). Throws HttpConfigError when no API token is configured and HERALD_DEV is
 * off. Closing it closes the queues it opened and detaches from `events`; Herald, DeadLetters and the
 * connection are the caller's to close.
 */
export async function createHttpServer(opts: HttpServerOptions): Promise<HeraldHttpServer> {
  const { config, logger } = opts;
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
  const auth = new ApiAuth(tokens, open);
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const redisTimeoutMs = opts.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.connectionLimits };

  const deliveryQueues = DELIVERY_QUEUES.map((name) => new Queue(name, { connection: opts.connection, prefix: opts.prefix }));
  const allQueues = [...deliveryQueues, opts.deadLetters.queue];
  // Without a listener BullMQ prints every connection error to the console; log them, once a minute at most.
  const lastLogged = new Map<string, number>();
  const onQueueError = (queue: Queue) => (error: Error) => {
    const now = Date.now();
    if (now - (lastLogged.get(queue.name) ?? 0) < 60_000) return;
    lastLogged.set(queue.name, now);
    logger.error({ err: error, queue: queue.name }, "queue connection error (repeats are not logged for a minute)");
  };
  const queueErrorHandlers = allQueues.map((queue) => {
    const handler = onQueueError(queue);
    queue.on("error", handler);
    return () => queue.off("error", handler);
  });
  const metrics = opts.metrics ?? new HeraldMetrics({ deadLetters: opts.deadLetters, logger });
  metrics.watchQueues(allQueues);
  const detach = opts.events ? metrics.attach(opts.events) : undefined;

  const app = Fastify({
    loggerInstance: logger,
    // One line per API request from the onResponse hook below instead of Fastify's two.
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
    metrics.unwatchQueues(allQueues);
    queueErrorHandlers.forEach((off) => off());
    await Promise.all(deliveryQueues.map((q) => q.close()));
  });

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, or for an unmatched request its path: a query string may carry personal data.
    const url = request.routeOptions.url ?? request.url.split("?")[0];
    if (OPS_PATHS.has(url) || url.startsWith("/admin/queues/static") || url.startsWith("/docs/static")) return;
    request.log.info({ method: request.method, route: url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "http request");
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return sendProblem(reply, { type: PROBLEM_TYPES.tooLarge, title: "Body too large", status: 413, detail: `The body may be at most ${bodyLimit} bytes.` });
    }
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      return sendProblem(reply, {
        type: PROBLEM_TYPES.unsupportedMediaType,
        title: "Unsupported media type",
        status: 415,
        detail: "Send the body as application/json.",
      });
    }
    if (status >= 400 && status < 500) {
      // Malformed JSON, empty JSON body and the like: the parser's message names no personal data.
      return sendProblem(reply, {
        type: PROBLEM_TYPES.invalidRequest,
        title: "Invalid request",
        status,
        detail: error.message,
        errors: [{ field: "", message: error.message }],
      });
    }
    if (error instanceof EnqueueError) {
      request.log.error({ err: error, jobId: error.jobId }, "Redis unavailable");
      reply.header("retry-after", "5");
      const detail =
        error.queued === false
          ? `Redis could not be reached; the notification was not queued. Retry with the header ${REQUEST_ID_HEADER}: ${error.jobId}.`
          : `Redis did not answer in time; the notification may or may not have been queued. Retry with the header ${REQUEST_ID_HEADER}: ${error.jobId} and it is queued at most once.`;
      return sendProblem(reply, { type: PROBLEM_TYPES.unavailable, title: "Service unavailable", status: 503, detail, id: error.jobId, queued: error.queued });
    }
    if (error instanceof DeadlineError || isRedisUnavailable(error)) {
      request.log.error({ err: error }, "Redis unavailable");
      const detail =
        error instanceof DeadlineError && error.what === "enqueue"
          ? `Redis did not answer within ${error.ms} ms. The notification may or may not have been queued: retry with the same ${REQUEST_ID_HEADER} header (or idempotencyKey) so it is sent at most once.`
          : error instanceof DeadlineError
            ? `Redis did not answer within ${error.ms} ms (${error.what}); the operation may have been partly done. Try again shortly.`
            : "The queue store (Redis) cannot be reached. Try again shortly.";
      reply.header("retry-after", "5");
      return sendProblem(reply, { type: PROBLEM_TYPES.unavailable, title: "Service unavailable", status: 503, detail });
    }
    request.log.error({ err: error }, "request failed");
    return sendProblem(reply, {
      type: PROBLEM_TYPES.internal,
      title: "Internal error",
      status: 500,
      detail: "The request failed; the error is in the server log.",
    });
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: PROBLEM_TYPES.notFound,
      title: "Not found",
      status: 404,
      detail: `No route ${request.method} ${request.url.split("?")[0].slice(0, 200)}.`,
    }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Herald",
        version: "1.0.0",
        description:
          "Identity-lifecycle notifications (account initialization, email and phone verification, password reset, passkey links) by email and SMS. " +
          "Every /v1 route needs `Authorization: Bearer <token>`; enqueue tokens may send notifications and read their status, admin tokens may do everything. " +
          "Errors are RFC 9457 problem details. Responses never contain recipients, codes or links.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "A token from HERALD_API_TOKENS" } } },
      tags: [
        { name: "notifications", description: "Send notifications and follow them" },
        { name: "dead letters", description: "Jobs that failed for good (admin)" },
        { name: "operations", description: "Health, readiness and metrics (no auth)" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list", deepLinking: true } });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (v1) => {
      v1.addHook("onRequest", async (request, reply) => {
        const needed = request.routeOptions.config.scope ?? "admin";
        const granted = auth.scopeOfBearer(request.headers.authorization);
        if (!granted) {
          reply.header("www-authenticate", 'Bearer realm="Herald"');
          return sendProblem(reply, {
            type: PROBLEM_TYPES.unauthorized,
            title: "Unauthorized",
            status: 401,
            detail: "Send Authorization: Bearer <token> with a token from HERALD_API_TOKENS.",
          });
        }
        if (!allows(granted, needed)) {
          reply.header("www-authenticate", `Bearer realm="Herald", error="insufficient_scope", scope="${needed}"`);
          return sendProblem(reply, { type: PROBLEM_TYPES.forbidden, title: "Forbidden", status: 403, detail: `This needs a token of scope ${needed}.` });
        }
      });
      const status = { queues: deliveryQueues, deadLetters: opts.deadLetters, connection: opts.connection };
      await v1.register(notificationRoutes, { herald: opts.herald, status, metrics, bodyLimit, redisTimeoutMs });
      await v1.register(deadLetterRoutes, { deadLetters: opts.deadLetters, redisTimeoutMs });
    },
    { prefix: "/v1" },
  );

  const ops = { tags: ["operations"] };
  app.get(
    "/healthz",
    { schema: { ...ops, summary: "The process is up", response: { 200: jsonResponse("Up", { type: "object", properties: { status: { const: "ok" } } }) } } },
    async () => ({ status: "ok" }),
  );

  const checks = opts.ready ?? { redis: redisCheck(opts.connection) };
  app.get(
    "/readyz",
    {
      schema: {
        ...ops,
        summary: "Ready to serve: every readiness check passes (Redis reachable, workers running, templates compiled)",
        response: {
          200: jsonResponse("Ready", readySchema),
          503: jsonResponse("Not ready; the failing checks say why", readySchema),
        },
      },
    },
    async (_request, reply) => {
      const result = await runReadyChecks(checks, opts.readyTimeoutMs ?? 2000);
      return reply.code(result.ready ? 200 : 503).send({ status: result.ready ? "ready" : "not ready", checks: result.checks });
    },
  );

  const metricsAuth = async (request: { headers: { authorization?: string } }, reply: import("fastify").FastifyReply) => {
    const granted = auth.scopeOfBearer(request.headers.authorization);
    if (granted === "metrics" || granted === "admin") return;
    reply.header("www-authenticate", 'Bearer realm="Herald", scope="metrics"');
    return sendProblem(reply, {
      type: PROBLEM_TYPES.unauthorized,
      title: "Unauthorized",
      status: 401,
      detail: "/metrics needs Authorization: Bearer <token> with a metrics or admin token from HERALD_API_TOKENS.",
    });
  };
  app.get(
    "/metrics",
    { schema: { ...ops, summary: "Prometheus metrics", produces: ["text/plain"] }, ...(opts.protectMetrics ? { onRequest: metricsAuth } : {}) },
    async (_request, reply) => {
      const body = await metrics.render();
      return reply.type(metrics.contentType).send(body);
    },
  );

  await registerBoard(app, { queues: allQueues, readOnly: config.HERALD_BOARD_READONLY, auth });
  await registerPreviews(app, { auth, renderer: opts.renderer });

  const server = app as HeraldHttpServer;
  server.decorate("heraldMetrics", metrics);
  return server;
}

const readySchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ready", "not ready"] },
    checks: { type: "object", additionalProperties: { type: "object", properties: { ok: { type: "boolean" }, detail: { type: "string" } } } },
  },
};

function isRedisUnavailable(error: Error): boolean {
  return error.name === "MaxRetriesPerRequestError" || /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue/.test(error.message ?? "");
}
