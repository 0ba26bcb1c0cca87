import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { toFieldIssues } from "../../contracts/index.js";
import { withDeadline } from "../../queues/deadline.js";
import type { Suppressions } from "../../queues/suppressions.js";
import { jsonResponse, problemResponse } from "../openapi.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

export interface SuppressionRoutesOptions {
  suppressions: Suppressions;
  redisTimeoutMs: number;
}

const address = z.string().trim().min(3, "must be an email address or an E.164 number").max(254, "must be at most 254 characters");
const addressBody = z.strictObject({ address });
const addBody = z.strictObject({ address, reason: z.string().trim().min(1).max(300).optional() });
const removeBody = z.union([z.strictObject({ address }), z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be an entry id as listed") })], {
  error: "give address or id",
});

const common = { tags: ["suppressions"], security: [{ bearerAuth: [] }] };
const errors = {
  400: problemResponse("Invalid body"),
  401: problemResponse("No or an unknown bearer token"),
  403: problemResponse("Needs an admin token"),
  503: problemResponse("Redis did not answer in time"),
};
const addressJson = { type: "object", required: ["address"], properties: { address: { type: "string" }, reason: { type: "string" } } };

/**
 * `/v1/suppressions`: admin only. Addresses travel in bodies, never in URLs (access logs); the list
 * shows entry ids (keyed hashes), never an address.
 */
export async function suppressionRoutes(app: FastifyInstance, opts: SuppressionRoutesOptions): Promise<void> {
  const { suppressions } = opts;
  const timed = <T>(promise: Promise<T>, what: string) => withDeadline(promise, opts.redisTimeoutMs, what);
  const invalid = (error: z.ZodError) => ({ type: PROBLEM_TYPES.invalidRequest, title: "Invalid request", status: 400, errors: toFieldIssues(error) }) as const;

  app.get(
    "/suppressions",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "list-suppressions",
        summary: "Every suppressed recipient (by entry id), newest first",
        response: { 200: jsonResponse("The entries", { type: "object" }), ...errors },
      },
    },
    async (_request, reply) => {
      const items = await withDeadline(suppressions.list(), opts.redisTimeoutMs * 12, "suppression list");
      return reply.send({ total: items.length, items });
    },
  );

  app.post(
    "/suppressions/lookup",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "find-suppression",
        summary: "Is this recipient suppressed, and why",
        body: addressJson,
        response: { 200: jsonResponse("The entry, or suppressed: false", { type: "object" }), ...errors },
      },
    },
    async (request, reply) => {
      const body = addressBody.safeParse(request.body ?? {});
      if (!body.success) return sendProblem(reply, invalid(body.error));
      const entry = await timed(suppressions.check(body.data.address), "suppression look-up");
      return reply.send(entry ? { suppressed: true, ...entry } : { suppressed: false });
    },
  );

  app.post(
    "/suppressions",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "add-suppression",
        summary: "Suppress a recipient: nothing is sent to it until the entry expires or is removed",
        body: addressJson,
        response: { 201: jsonResponse("Added", { type: "object" }), ...errors },
      },
    },
    async (request, reply) => {
      const body = addBody.safeParse(request.body ?? {});
      if (!body.success) return sendProblem(reply, invalid(body.error));
      const id = await timed(suppressions.add(body.data.address, { source: "admin", reason: body.data.reason ?? "added by an admin" }), "suppression add");
      request.log.info({ suppression: id }, "recipient suppressed by an admin");
      return reply.code(201).send({ id, expiresIn: suppressions.ttlSeconds });
    },
  );

  app.post(
    "/suppressions/remove",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "remove-suppression",
        summary: "Let mail (or SMS) flow to a recipient again",
        body: { type: "object", properties: { address: { type: "string" }, id: { type: "string" } } },
        response: { 200: jsonResponse("Whether an entry was removed", { type: "object", properties: { removed: { type: "boolean" } } }), ...errors },
      },
    },
    async (request, reply) => {
      const body = removeBody.safeParse(request.body ?? {});
      if (!body.success) return sendProblem(reply, invalid(body.error));
      const removed = await timed("address" in body.data ? suppressions.remove(body.data.address) : suppressions.removeId(body.data.id), "suppression remove");
      request.log.info({ removed }, "suppression removed by an admin");
      return reply.send({ removed });
    },
  );
}
