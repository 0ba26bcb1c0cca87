import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { NOTIFICATION_EVENT_TYPES, type NotificationEventType } from "../contracts/events.js";
import { secretKey, WebhookSecretError } from "../webhooks/standard-webhooks.js";

/** One producer endpoint that receives signed delivery events. */
export interface WebhookEndpoint {
  /** Stable name: in job ids, logs, metrics and the breaker; default derived from the URL. */
  id: string;
  url: string;
  events: NotificationEventType[];
  /** `whsec_…`; several during a rotation (each delivery carries one signature per secret). */
  secrets: string[];
}

const loopback = (url: URL) => ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);

const endpointSchema = (dev: boolean) =>
  z.strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "id must be 1-64 letters, digits, _ or -")
      .optional(),
    url: z.string().refine((v) => {
      try {
        const url = new URL(v);
        return url.protocol === "https:" || (url.protocol === "http:" && (dev || loopback(url)));
      } catch {
        return false;
      }
    }, "url must be an https URL (http only to localhost, or with HERALD_DEV=1)"),
    events: z
      .array(z.enum(NOTIFICATION_EVENT_TYPES, { error: `events may be ${NOTIFICATION_EVENT_TYPES.join(", ")}` }))
      .min(1, "events must name at least one event type"),
    secrets: z
      .array(
        z.string().superRefine((secret, ctx) => {
          try {
            secretKey(secret);
          } catch (error) {
            if (!(error instanceof WebhookSecretError)) throw error;
            ctx.addIssue({ code: "custom", message: `secrets: ${error.message}` }); // never the secret itself
          }
        }),
      )
      .min(1, "secrets must hold at least one whsec_ secret"),
  });

export interface WebhookEnv {
  HERALD_WEBHOOKS?: string;
  HERALD_WEBHOOKS_FILE?: string;
  HERALD_DEV: boolean;
}

/**
 * The endpoints of HERALD_WEBHOOKS (JSON) or HERALD_WEBHOOKS_FILE (JSON or YAML), checked: every problem
 * names the variable and the entry; secrets never appear in a message.
 */
export function webhookEndpoints(env: WebhookEnv): { endpoints: WebhookEndpoint[]; issues: { variable: string; message: string }[] } {
  const variable = env.HERALD_WEBHOOKS ? "HERALD_WEBHOOKS" : "HERALD_WEBHOOKS_FILE";
  if (env.HERALD_WEBHOOKS && env.HERALD_WEBHOOKS_FILE) {
    return { endpoints: [], issues: [{ variable: "HERALD_WEBHOOKS_FILE", message: "set HERALD_WEBHOOKS or HERALD_WEBHOOKS_FILE, not both" }] };
  }
  let raw: unknown;
  try {
    if (env.HERALD_WEBHOOKS) raw = JSON.parse(env.HERALD_WEBHOOKS);
    else if (env.HERALD_WEBHOOKS_FILE) raw = parseYaml(readFileSync(env.HERALD_WEBHOOKS_FILE, "utf8"));
    else return { endpoints: [], issues: [] };
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? `there is no file ${env.HERALD_WEBHOOKS_FILE}` : "is not valid JSON/YAML";
    return { endpoints: [], issues: [{ variable, message: `${variable} ${why}` }] };
  }
  const list = z.array(endpointSchema(env.HERALD_DEV), { error: "must be a list of endpoints" }).safeParse(raw);
  if (!list.success) {
    return {
      endpoints: [],
      issues: list.error.issues.map((issue) => ({
        variable,
        message: `${variable}${issue.path.length ? ` entry ${Number(issue.path[0]) + 1}` : ""}: ${issue.message}`,
      })),
    };
  }
  const endpoints = list.data.map((e) => ({ ...e, id: e.id ?? `ep-${createHash("sha256").update(e.url).digest("hex").slice(0, 12)}` }));
  const ids = endpoints.map((e) => e.id);
  const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (repeated.length > 0) return { endpoints: [], issues: [{ variable, message: `${variable}: endpoint id ${repeated[0]} is used twice` }] };
  return { endpoints, issues: [] };
}
