import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import type { ApiScope } from "../../config/http.js";
import { allows, type ApiAuth } from "../auth.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a /v1 route needs; admin when absent. */
    scope?: ApiScope;
  }
}

/** The HTTP Basic challenge of the admin pages (Bull Board, previews). */
export const ADMIN_REALM = 'Basic realm="Herald"';

/**
 * /v1: `Authorization: Bearer <token>` whose scope allows the route's `config.scope` (admin when absent);
 * problem details otherwise.
 */
export function bearerScopeHook(auth: ApiAuth): onRequestAsyncHookHandler {
  return async (request, reply) => {
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
  };
}

/** /metrics when protected: a Bearer token of scope metrics or admin. */
export function metricsHook(auth: ApiAuth): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
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
}

export interface AdminHookOptions {
  /** Also take `Authorization: Bearer <admin token>` (a Bearer token of another scope gets 403 with this text). */
  bearer?: { forbidden: string };
}

/**
 * The admin pages (Bull Board, previews): HTTP Basic, user `admin` and an admin token as password; plain
 * text 401 with the Basic challenge otherwise, so a browser asks.
 */
export function adminHook(auth: ApiAuth, opts: AdminHookOptions = {}): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const authorization = request.headers.authorization;
    if (auth.isAdminBasic(authorization)) return;
    if (opts.bearer) {
      const bearer = /^Bearer[ \t]/i.test(authorization ?? "") ? auth.scopeOfBearer(authorization) : undefined;
      if (bearer === "admin") return;
      if (bearer) {
        return reply
          .code(403)
          .header("www-authenticate", 'Bearer realm="Herald", error="insufficient_scope", scope="admin"')
          .type("text/plain; charset=utf-8")
          .send(opts.bearer.forbidden);
      }
    }
    return reply
      .code(401)
      .header("www-authenticate", ADMIN_REALM)
      .type("text/plain; charset=utf-8")
      .send("Authentication required: user admin, password an admin API token.\n");
  };
}
