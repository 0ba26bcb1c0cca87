import type { FastifyPluginAsync } from "fastify";
import type { HeraldMetrics } from "../../metrics.js";
import type { ApiAuth } from "../auth.js";
import { metricsHook } from "./auth.js";
import { OPERATIONS_TAG } from "./health.js";

export interface MetricsOptions {
  metrics: HeraldMetrics;
  auth: ApiAuth;
  /** Needs a Bearer token of scope metrics or admin. */
  protect: boolean;
}

/** /metrics in the Prometheus text format. */
export const metricsRoute: FastifyPluginAsync<MetricsOptions> = async (app, { metrics, auth, protect }) => {
  app.get(
    "/metrics",
    { schema: { ...OPERATIONS_TAG, summary: "Prometheus metrics", produces: ["text/plain"] }, ...(protect ? { onRequest: metricsHook(auth) } : {}) },
    async (_request, reply) => {
      const body = await metrics.render();
      return reply.type(metrics.contentType).send(body);
    },
  );
};
