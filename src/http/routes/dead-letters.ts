import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { KIND_NAMES, toFieldIssues, type KindName } from "../../contracts/index.js";
import { FAILURE_CLASSES } from "../../errors/index.js";
import { hasFilter, publicDeadLetter, type DeadLetterFilter, type DeadLetters } from "../../queues/dead-letter.js";
import { channelOfQueue, isDeadLetterId } from "../../queues/status.js";
import { deadLetterPageSchema, deadLetterSchema, filterProperties, jsonResponse, problemResponse } from "../openapi.js";
import { withDeadline } from "../../queues/deadline.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

export interface DeadLetterRoutesOptions {
  deadLetters: DeadLetters;
  /** Longest wait for Redis on a single dead letter before answering 503; bulk operations get 12 times as long. */
  redisTimeoutMs: number;
}

const time = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time with zone, e.g. 2026-01-31T12:00:00Z" });
const filterShape = {
  kind: z.enum(KIND_NAMES as [KindName, ...KindName[]], { error: `must be one of ${KIND_NAMES.join(", ")}` }).optional(),
  failureClass: z.enum(FAILURE_CLASSES, { error: `must be one of ${FAILURE_CLASSES.join(", ")}` }).optional(),
  since: time.optional(),
  until: time.optional(),
};
const whole = (min: number, max: number) =>
  z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const listQuery = z.strictObject({ ...filterShape, offset: whole(0, 10_000_000).default(0), limit: whole(1, 500).default(50) });
const replayBody = z.strictObject({ ...filterShape, all: z.boolean({ error: "must be true or false" }).optional() });
const purgeQuery = z.strictObject({ ...filterShape, all: z.enum(["true", "false"], { error: "must be true or false" }).optional() });

function toFilter(input: { kind?: string; failureClass?: DeadLetterFilter["failureClass"]; since?: string; until?: string }): DeadLetterFilter {
  return {
    ...(input.kind ? { kind: input.kind } : {}),
    ...(input.failureClass ? { failureClass: input.failureClass } : {}),
    ...(input.since ? { since: new Date(input.since) } : {}),
    ...(input.until ? { until: new Date(input.until) } : {}),
  };
}

function parseOr400<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply, what: string): T | undefined {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  sendProblem(reply, { type: PROBLEM_TYPES.invalidRequest, title: `Invalid ${what}`, status: 400, errors: toFieldIssues(result.error) });
  return undefined;
}

/** One rule for bulk replay and purge (and the CLI's): a filter, or an explicit "all"; nothing at all is refused. */
const refuseEverything = (reply: FastifyReply, verb: "replay" | "remove", how: string) =>
  sendProblem(reply, {
    type: PROBLEM_TYPES.invalidRequest,
    title: `Refusing to ${verb} every dead letter`,
    status: 400,
    detail: `Give a filter (kind, failureClass, since, until) or ${how}.`,
    errors: [{ field: "all", message: `must be true to ${verb} every dead letter` }],
  });

const notFound = (reply: FastifyReply) =>
  sendProblem(reply, {
    type: PROBLEM_TYPES.notFound,
    title: "Dead letter not found",
    status: 404,
    detail: "No dead letter with this id (replayed, removed or never there).",
  });

const common = {
  tags: ["dead letters"],
  security: [{ bearerAuth: [] }],
};
const errors = {
  401: problemResponse("No or an unknown bearer token"),
  403: problemResponse("Needs an admin token"),
  503: problemResponse("Redis did not answer in time"),
};
const idParams = { type: "object", required: ["id"], properties: { id: { type: "string", description: "`${queue}-${originalJobId}`" } } };
const filterQuerySchema = { type: "object", properties: filterProperties };

/** `/v1/dead-letters`: admin only. */
export async function deadLetterRoutes(app: FastifyInstance, opts: DeadLetterRoutesOptions): Promise<void> {
  const { deadLetters } = opts;
  // JSON only (415 otherwise), like the notification routes.
  app.removeContentTypeParser("text/plain");
  const one = <T>(promise: Promise<T>, what: string) => withDeadline(promise, opts.redisTimeoutMs, what);
  const bulk = <T>(promise: Promise<T>, what: string) => withDeadline(promise, opts.redisTimeoutMs * 12, what);

  app.get(
    "/dead-letters",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "list-dead-letters",
        summary: "List dead letters, newest first",
        querystring: {
          type: "object",
          properties: {
            ...filterProperties,
            offset: { type: "integer", minimum: 0, default: 0 },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
          },
        },
        response: { 200: jsonResponse("A page of dead letters", deadLetterPageSchema), 400: problemResponse("Invalid filter"), ...errors },
      },
    },
    async (request, reply) => {
      const query = parseOr400(listQuery, request.query, reply, "query");
      if (!query) return reply;
      const page = await bulk(deadLetters.list(toFilter(query), { offset: query.offset, limit: query.limit }), "dead-letter list");
      return reply.send({ total: page.total, offset: query.offset, limit: query.limit, items: page.items.map(publicDeadLetter) });
    },
  );

  app.get(
    "/dead-letters/:id",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "get-dead-letter",
        summary: "One dead letter",
        params: idParams,
        response: { 200: jsonResponse("The dead letter", deadLetterSchema), ...errors, 404: problemResponse("No such dead letter") },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isDeadLetterId(id)) return notFound(reply);
      const record = await one(deadLetters.get(id), "dead-letter look-up");
      return record ? reply.send(publicDeadLetter(record)) : notFound(reply);
    },
  );

  app.post(
    "/dead-letters/:id/replay",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "replay-dead-letter",
        summary: "Send a dead letter again",
        description: "Puts the job back on its queue as a new job (fresh attempts, new id) and removes the dead letter.",
        params: idParams,
        response: {
          202: jsonResponse("Queued again", {
            type: "object",
            required: ["id", "deadLetterId", "kind", "status"],
            properties: {
              id: { type: "string", description: "The new job's id" },
              deadLetterId: { type: "string" },
              kind: { type: "string" },
              channel: { type: "string" },
              status: { const: "queued" },
            },
          }),
          ...errors,
          404: problemResponse("No such dead letter"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isDeadLetterId(id)) return notFound(reply);
      const record = await one(deadLetters.get(id), "dead-letter look-up");
      if (!record) return notFound(reply);
      const newId = await one(deadLetters.replay(id), "replay");
      if (!newId) return notFound(reply); // replayed or removed in between
      const channel = channelOfQueue(record.queue);
      return reply
        .code(202)
        .header("location", `/v1/notifications/${encodeURIComponent(newId)}`)
        .send({ id: newId, deadLetterId: id, kind: record.kind, ...(channel ? { channel } : {}), status: "queued" });
    },
  );

  app.post(
    "/dead-letters/replay",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "replay-dead-letters",
        summary: "Send every matching dead letter again",
        description:
          'The body is a filter (at least one of kind, failureClass, since, until), or {"all": true} to replay every dead letter; an empty body is refused.',
        body: {
          type: "object",
          properties: { ...filterProperties, all: { type: "boolean", description: "true: every dead letter (a filter still narrows it)" } },
          additionalProperties: false,
        },
        response: {
          200: jsonResponse("How many were replayed", { type: "object", required: ["replayed"], properties: { replayed: { type: "integer" } } }),
          400: problemResponse("Invalid filter, or neither a filter nor all: true"),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const body = parseOr400(replayBody, request.body, reply, "filter");
      if (!body) return reply;
      const filter = toFilter(body);
      if (!hasFilter(filter) && body.all !== true) return refuseEverything(reply, "replay", '{"all": true}');
      return reply.send({ replayed: await bulk(deadLetters.replayAll(filter), "replay") });
    },
  );

  app.delete(
    "/dead-letters/:id",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "delete-dead-letter",
        summary: "Remove a dead letter for good",
        params: idParams,
        response: { 204: { description: "Removed", type: "null" }, ...errors, 404: problemResponse("No such dead letter") },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isDeadLetterId(id)) return notFound(reply);
      const removed = await one(deadLetters.remove(id), "dead-letter removal");
      return removed ? reply.code(204).send() : notFound(reply);
    },
  );

  app.delete(
    "/dead-letters",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "purge-dead-letters",
        summary: "Remove every matching dead letter for good",
        description: "Give at least one filter, or all=true to remove every dead letter.",
        querystring: { ...filterQuerySchema, properties: { ...filterProperties, all: { type: "boolean" } } },
        response: {
          200: jsonResponse("How many were removed", { type: "object", required: ["removed"], properties: { removed: { type: "integer" } } }),
          400: problemResponse("Invalid filter, or neither a filter nor all=true"),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const query = parseOr400(purgeQuery, request.query, reply, "query");
      if (!query) return reply;
      const filter = toFilter(query);
      if (!hasFilter(filter) && query.all !== "true") return refuseEverything(reply, "remove", "all=true");
      return reply.send({ removed: await bulk(deadLetters.purge(filter), "purge") });
    },
  );
}
