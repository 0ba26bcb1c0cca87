import type { FastifyPluginAsync } from "fastify";
import { jsonResponse } from "../openapi.js";
import { runReadyChecks, type ReadyCheck } from "../ready.js";

export interface HealthOptions {
  /** The /readyz checks by name. */
  checks: Record<string, ReadyCheck>;
  /** How long each check may take before it counts as failed. */
  readyTimeoutMs: number;
}

export const OPERATIONS_TAG = { tags: ["operations"] };

const readySchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ready", "not ready"] },
    checks: { type: "object", additionalProperties: { type: "object", properties: { ok: { type: "boolean" }, detail: { type: "string" } } } },
  },
};

/** /healthz (the process is up) and /readyz (every readiness check passes); no auth. */
export const health: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  app.get(
    "/healthz",
    {
      schema: {
        ...OPERATIONS_TAG,
        summary: "The process is up",
        response: { 200: jsonResponse("Up", { type: "object", properties: { status: { const: "ok" } } }) },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        ...OPERATIONS_TAG,
        summary: "Ready to serve: every readiness check passes (Redis reachable, workers running, templates compiled)",
        response: {
          200: jsonResponse("Ready", readySchema),
          503: jsonResponse("Not ready; the failing checks say why", readySchema),
        },
      },
    },
    async (_request, reply) => {
      const result = await runReadyChecks(opts.checks, opts.readyTimeoutMs);
      return reply.code(result.ready ? 200 : 503).send({ status: result.ready ? "ready" : "not ready", checks: result.checks });
    },
  );
};
