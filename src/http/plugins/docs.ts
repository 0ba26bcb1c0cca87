import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { readFileSync } from "node:fs";

/** The package's version (src/ and dist/ sit at the same depth below package.json). */
const VERSION = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/**
 * The OpenAPI document at /openapi.json and Swagger UI at /docs. Applied to the root instance itself, not
 * registered into a scope of its own: the document is built from the routes the root and every scope add.
 */
export async function docs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Herald",
        version: VERSION,
        description:
          "Identity-lifecycle notifications (account initialization, email and phone verification, password reset, passkey links) by email and SMS. " +
          "Every /v1 route needs `Authorization: Bearer <token>`; enqueue tokens may send notifications and read their status, admin tokens may do everything. " +
          "Errors are RFC 9457 problem details. Responses never contain recipients, codes or links.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "A token from HERALD_API_TOKENS" } } },
      tags: [
        { name: "notifications", description: "Send notifications and follow them" },
        { name: "dead letters", description: "Jobs that failed for good (admin)" },
        { name: "limits", description: "Resend limits and SMS country breakers (admin)" },
        { name: "suppressions", description: "Recipients that bounced for good: nothing is sent to them (admin)" },
        { name: "operations", description: "Health and readiness (no auth); metrics (a metrics or admin token beyond loopback)" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list", deepLinking: true } });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
