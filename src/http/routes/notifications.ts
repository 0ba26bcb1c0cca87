import { context, propagation } from "@opentelemetry/api";
import type { FastifyInstance } from "fastify";
import { KIND_NAMES, KINDS, ValidationError, type KindName } from "../../contracts/index.js";
import { RateLimitedError } from "../../errors/index.js";
import type { HeraldMetrics } from "../../metrics.js";
import type { Herald } from "../../queues/producer.js";
import { isJobId, lookupStatus, type StatusSources } from "../../queues/status.js";
import { acceptedSchema, jobJsonSchema, jsonResponse, problemResponse, statusSchema } from "../openapi.js";
import { withDeadline } from "../../queues/deadline.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

export interface NotificationRoutesOptions {
  herald: Herald;
  status: StatusSources;
  metrics: HeraldMetrics;
  bodyLimit: number;
  /** Longest wait for Redis before answering 503. */
  redisTimeoutMs: number;
}

/**
 * The client's id for one notification request, a UUID: it becomes the job's id, so a request retried
 * after a timeout or a 503 (with the same header) finds the first job instead of queueing a second.
 */
export const REQUEST_ID_HEADER = "Idempotency-Key";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const authProblems = {
  401: problemResponse("No or an unknown bearer token"),
  403: problemResponse("The token's scope does not allow this"),
};

/** `/v1/notifications`: one POST route per kind (each documented with its contract), and the status. */
export async function notificationRoutes(app: FastifyInstance, opts: NotificationRoutesOptions): Promise<void> {
  const { herald, metrics, bodyLimit, redisTimeoutMs } = opts;
  // Fastify reads text/plain too; the API takes JSON only (415 otherwise), as documented.
  app.removeContentTypeParser("text/plain");
  // The enqueue already succeeded: a slow look-up must not turn its answer into an error.
  const currentState = (id: string) =>
    withDeadline(lookupStatus(id, opts.status), redisTimeoutMs, "status look-up").then(
      (status) => status?.status ?? "unknown",
      () => "unknown" as const,
    );

  for (const kind of KIND_NAMES) {
    const def = KINDS[kind];
    app.post(
      `/notifications/${kind}`,
      {
        bodyLimit,
        config: { scope: "enqueue" },
        schema: {
          tags: ["notifications"],
          operationId: `enqueue-${kind}`,
          summary: `Send a ${kind} notification`,
          description: `${def.summary} Channels: ${def.channels.join(", ")}. The body is validated against the same contract as the SDK; every invalid field is listed in the 400 answer.`,
          security: [{ bearerAuth: [] }],
          headers: {
            type: "object",
            properties: {
              "idempotency-key": {
                type: "string",
                format: "uuid",
                description: `Optional. A UUID you choose per notification; it becomes the notification's id. Send the same ${REQUEST_ID_HEADER} when you retry a request that timed out or got 503 (whose body names the id to use), and the notification is queued at most once.`,
              },
            },
          },
          body: jobJsonSchema(kind),
          response: {
            202: jsonResponse("Queued (or, for a repeated idempotency key, the first job)", acceptedSchema),
            400: problemResponse("Invalid job: every invalid field in errors[]"),
            ...authProblems,
            413: problemResponse("Body larger than the limit (64 KiB)"),
            429: problemResponse("Over a resend limit or the SMS-pumping guard (limit names which); nothing was queued. Retry-After says when"),
            503: problemResponse("Redis did not take it in time; retry with the Idempotency-Key header set to the id in the body"),
          },
        },
      },
      async (request, reply) => {
        const requestId = request.headers["idempotency-key"];
        if (requestId !== undefined && (typeof requestId !== "string" || !UUID.test(requestId))) {
          const message = "must be a UUID, chosen once per notification and sent again unchanged on a retry";
          return sendProblem(reply, {
            type: PROBLEM_TYPES.invalidRequest,
            title: "Invalid request",
            status: 400,
            detail: `${REQUEST_ID_HEADER} ${message}.`,
            errors: [{ field: REQUEST_ID_HEADER, message }],
          });
        }
        let result: Awaited<ReturnType<typeof herald.enqueue>>;
        try {
          // A caller's W3C traceparent continues its trace into the enqueue (a no-op unless tracing is on).
          const caller = propagation.extract(context.active(), request.headers);
          result = await context.with(caller, () => herald.enqueue(kind as KindName, request.body as never, { id: requestId, timeoutMs: redisTimeoutMs }));
        } catch (error) {
          if (error instanceof ValidationError) {
            return sendProblem(reply, {
              type: PROBLEM_TYPES.validation,
              title: "Invalid notification",
              status: 400,
              detail: `The ${kind} job has ${error.issues.length} invalid field(s); nothing was queued.`,
              errors: error.issues,
            });
          }
          if (error instanceof RateLimitedError) {
            metrics.rateLimited(kind, error);
            if (error.opened) {
              request.log.warn(
                { limit: error.limit, country: error.country, retryAfter: error.retryAfter },
                "SMS country breaker opened: SMS to this country are refused (SMS-pumping guard)",
              );
            }
            return sendProblem(reply.header("retry-after", String(error.retryAfter)), {
              type: PROBLEM_TYPES.rateLimited,
              title: "Too many notifications",
              status: 429,
              detail: `${error.message}. Nothing was queued.`,
              limit: error.limit,
              retryAfter: error.retryAfter,
            });
          }
          throw error;
        }
        metrics.enqueued(result);
        // A repeat says where the first job is now (delivered, retrying…), not that something new was queued.
        const status = result.deduplicated ? await currentState(result.id) : "queued";
        return reply
          .code(202)
          .header("location", `/v1/notifications/${encodeURIComponent(result.id)}`)
          .send({ id: result.id, kind: result.kind, channel: result.channel, status, deduplicated: result.deduplicated });
      },
    );
  }

  // Any other kind: 404 rather than the router's generic answer, with the kinds there are.
  app.post("/notifications/:kind", { bodyLimit, config: { scope: "enqueue" }, schema: { hide: true } }, async (request, reply) => {
    const { kind } = request.params as { kind: string };
    return sendProblem(reply, {
      type: PROBLEM_TYPES.unknownKind,
      title: "Unknown notification kind",
      status: 404,
      detail: `There is no kind "${kind.slice(0, 100)}"; expected one of ${KIND_NAMES.join(", ")}.`,
    });
  });

  app.get(
    "/notifications/:id",
    {
      config: { scope: "enqueue" },
      schema: {
        tags: ["notifications"],
        operationId: "get-notification-status",
        summary: "Where a notification is",
        description:
          "queued, active, retrying (attempts, next try), delivered (provider message id, time), failed (for good, about to be dead-lettered) or dead-lettered (class, reason). " +
          "Never returns the recipient, code, link or message. After a dead letter was replayed, its original id answers with the new job's status (`id` the new job's, `originalId` the one asked about). 404 for an unknown id, or once a delivered job has passed its retention.",
        security: [{ bearerAuth: [] }],
        params: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
        response: {
          200: jsonResponse("The status", statusSchema),
          ...authProblems,
          404: problemResponse("No such notification"),
          503: problemResponse("Redis did not answer in time"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const status = isJobId(id) ? await withDeadline(lookupStatus(id, opts.status), redisTimeoutMs, "status look-up") : undefined;
      if (!status) {
        return sendProblem(reply, {
          type: PROBLEM_TYPES.notFound,
          title: "Notification not found",
          status: 404,
          detail: "No notification with this id is queued, kept or dead-lettered.",
        });
      }
      return reply.send(status);
    },
  );
}
