import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { toFieldIssues } from "../../contracts/index.js";
import { withDeadline } from "../../queues/deadline.js";
import type { Limits } from "../../queues/limits.js";
import { jsonResponse, problemResponse } from "../openapi.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

export interface LimitRoutesOptions {
  limits: Limits;
  redisTimeoutMs: number;
}

/** Who to look up: in the body, not the path, so no address lands in an access log. */
const subjectSchema = z
  .strictObject({
    address: z.string().trim().min(1, "must not be empty").max(254).optional(),
    userId: z.string().trim().min(1, "must not be empty").max(200).optional(),
    country: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2}$/, "must be an ISO 3166 country code such as CH")
      .optional(),
  })
  .refine((s) => s.address || s.userId || s.country, { message: "give address, userId or country", path: ["address"] });

const subjectJson = {
  type: "object",
  properties: {
    address: { type: "string", description: "An email address or an E.164 number" },
    userId: { type: "string" },
    country: { type: "string", description: "ISO 3166 code: the SMS counter and breaker of that country" },
  },
};

const common = { tags: ["limits"], security: [{ bearerAuth: [] }] };
const errors = {
  400: problemResponse("No or an invalid subject"),
  401: problemResponse("No or an unknown bearer token"),
  403: problemResponse("Needs an admin token"),
  503: problemResponse("Redis did not answer in time"),
};

/** `/v1/limits`: admin only. The counters of an address, a user id or a country; reset them; the open SMS breakers. */
export async function limitRoutes(app: FastifyInstance, opts: LimitRoutesOptions): Promise<void> {
  const { limits } = opts;
  const timed = <T>(promise: Promise<T>, what: string) => withDeadline(promise, opts.redisTimeoutMs, what);
  const parse = (body: unknown) => subjectSchema.safeParse(body ?? {});
  const invalid = (error: z.ZodError) => ({ type: PROBLEM_TYPES.invalidRequest, title: "Invalid request", status: 400, errors: toFieldIssues(error) }) as const;

  app.post(
    "/limits/lookup",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "show-limits",
        summary: "Current counters of an address, a user id or a country",
        description:
          "Sends counted in the rolling hour, the configured limit, seconds until the next send passes, cooldowns per kind, and a country's breaker.",
        body: subjectJson,
        response: { 200: jsonResponse("The counters", { type: "object" }), ...errors },
      },
    },
    async (request, reply) => {
      const subject = parse(request.body);
      if (!subject.success) return sendProblem(reply, invalid(subject.error));
      return reply.send(await timed(limits.show(subject.data), "limits look-up"));
    },
  );

  app.post(
    "/limits/reset",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "reset-limits",
        summary: "Forget the counters (and cooldowns, or a country's breaker)",
        body: subjectJson,
        response: { 200: jsonResponse("How many counters were removed", { type: "object", properties: { removed: { type: "integer" } } }), ...errors },
      },
    },
    async (request, reply) => {
      const subject = parse(request.body);
      if (!subject.success) return sendProblem(reply, invalid(subject.error));
      request.log.info({ country: subject.data.country }, "limits reset by an admin");
      return reply.send({ removed: await timed(limits.reset(subject.data), "limits reset") });
    },
  );

  app.get(
    "/limits/breakers",
    {
      config: { scope: "admin" },
      schema: {
        ...common,
        operationId: "list-sms-breakers",
        summary: "SMS country breakers open now",
        response: { 200: jsonResponse("Open breakers", { type: "object" }), ...errors },
      },
    },
    async (_request, reply) => reply.send({ open: await timed(limits.openBreakers(), "breakers look-up") }),
  );
}
