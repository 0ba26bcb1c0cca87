import type { FastifyPluginAsync } from "fastify";
import type { HeraldMetrics } from "../../metrics.js";
import type { DeadLetters } from "../../queues/dead-letter.js";
import type { Herald } from "../../queues/producer.js";
import type { StatusSources } from "../../queues/status.js";
import type { ApiAuth } from "../auth.js";
import { deadLetterRoutes } from "../routes/dead-letters.js";
import { limitRoutes } from "../routes/limits.js";
import { suppressionRoutes } from "../routes/suppressions.js";
import type { Suppressions } from "../../queues/suppressions.js";
import { notificationRoutes } from "../routes/notifications.js";
import { webhookRoutes } from "../routes/webhooks.js";
import type { WebhookDeadLetters } from "../../queues/webhook-outbox.js";
import { bearerScopeHook } from "./auth.js";

export interface ApiOptions {
  auth: ApiAuth;
  herald: Herald;
  status: StatusSources;
  deadLetters: DeadLetters;
  metrics: HeraldMetrics;
  /** The suppression list's admin routes, when given. */
  suppressions?: Suppressions;
  bodyLimit: number;
  redisTimeoutMs: number;
  /** The webhook dead letters' routes, when webhook endpoints are configured. */
  webhookDeadLetters?: WebhookDeadLetters;
}

/** The /v1 API (register it with prefix /v1): every route behind a Bearer token of the route's scope. */
export const api: FastifyPluginAsync<ApiOptions> = async (v1, opts) => {
  v1.addHook("onRequest", bearerScopeHook(opts.auth));
  const { herald, status, metrics, bodyLimit, redisTimeoutMs } = opts;
  await v1.register(notificationRoutes, { herald, status, metrics, bodyLimit, redisTimeoutMs });
  await v1.register(deadLetterRoutes, { deadLetters: opts.deadLetters, redisTimeoutMs });
  await v1.register(limitRoutes, { limits: herald.limits, redisTimeoutMs });
  if (opts.suppressions) await v1.register(suppressionRoutes, { suppressions: opts.suppressions, redisTimeoutMs });
  if (opts.webhookDeadLetters) await v1.register(webhookRoutes, { webhookDeadLetters: opts.webhookDeadLetters, redisTimeoutMs });
};
