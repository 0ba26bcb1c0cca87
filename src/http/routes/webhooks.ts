import type { FastifyInstance } from "fastify";
import { withDeadline } from "../../queues/deadline.js";
import type { WebhookDeadLetters } from "../../queues/webhook-outbox.js";
import { jsonResponse, problemResponse } from "../openapi.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

export interface WebhookRoutesOptions {
  webhookDeadLetters: WebhookDeadLetters;
  redisTimeoutMs: number;
}

const common = { tags: ["webhooks"], security: [{ bearerAuth: [] }] };
const errors = {
  401: problemResponse("No or an unknown bearer token"),
  403: problemResponse("Needs an admin token"),
  503: problemResponse("Redis did not answer in time"),
};
const letterSchema = {
  type: "object",
  description: "A webhook message its endpoint did not take: the endpoint, the signed event (no personal data), the tries and the last error",
  properties: {
    id: { type: "string" },
    endpointId: { type: "string" },
    url: { type: "string" },
    messageId: { type: "string", description: "The webhook-id it was sent with, and is sent again with" },
    event: { type: "object" },
    attempts: { type: "integer" },
    reason: { type: "string" },
    failedAt: { type: "string", format: "date-time" },
  },
};
const MESSAGE_ID = /^msg_[0-9a-f]{24}-[A-Za-z0-9_-]{1,64}$/;

/** `/v1/webhooks/dead-letters`: admin only, when webhook endpoints are configured. */
export async function webhookRoutes(app: FastifyInstance, opts: WebhookRoutesOptions): Promise<void> {
  const { webhookDeadLetters, redisTimeoutMs } = opts;
  app.get(
    "/webhooks/dead-letters",
    {
      schema: {
        ...common,
        operationId: "list-webhook-dead-letters",
        summary: "Webhook messages that failed for good, newest first",
        querystring: { type: "object", properties: { offset: { type: "integer", minimum: 0 }, limit: { type: "integer", minimum: 1, maximum: 500 } } },
        response: {
          200: jsonResponse("A page", { type: "object", properties: { total: { type: "integer" }, items: { type: "array", items: letterSchema } } }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const query = request.query as { offset?: string; limit?: string };
      const offset = Number(query.offset ?? 0);
      const limit = Number(query.limit ?? 50);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 500) {
        return sendProblem(reply, {
          type: PROBLEM_TYPES.invalidRequest,
          title: "Invalid query",
          status: 400,
          errors: [{ field: "limit", message: "offset must be a whole number ≥ 0 and limit one from 1 to 500" }],
        });
      }
      return reply.send(await withDeadline(webhookDeadLetters.list(offset, limit), redisTimeoutMs, "webhook dead letters"));
    },
  );
  app.post(
    "/webhooks/dead-letters/:id/replay",
    {
      schema: {
        ...common,
        operationId: "replay-webhook-dead-letter",
        summary: "Send a webhook dead letter again (fresh attempts, the same webhook-id)",
        params: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
        response: {
          202: jsonResponse("Queued again", { type: "object", properties: { id: { type: "string" } } }),
          ...errors,
          404: problemResponse("No such webhook dead letter"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const replayed = MESSAGE_ID.test(id) && (await withDeadline(webhookDeadLetters.replay(id), redisTimeoutMs, "webhook replay"));
      if (!replayed) {
        return sendProblem(reply, {
          type: PROBLEM_TYPES.notFound,
          title: "Webhook dead letter not found",
          status: 404,
          detail: "No webhook dead letter with this id.",
        });
      }
      return reply.code(202).send({ id });
    },
  );
}
