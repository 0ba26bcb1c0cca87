import { z } from "zod";
import { KINDS, type KindName } from "../contracts/index.js";
import { FAILURE_CLASSES } from "../errors/index.js";
import { PROBLEM_CONTENT_TYPE } from "./problem.js";

type JsonSchema = Record<string, unknown>;

/** A kind's job contract as JSON Schema (what a client sends: defaults optional), for the route docs. */
export function jobJsonSchema(kind: KindName): JsonSchema {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(KINDS[kind].schema, { io: "input", target: "draft-2020-12", unrepresentable: "any" }) as JsonSchema;
  // Rules JSON Schema cannot express (refinements) are spelled out where a reader looks for them.
  const properties = schema.properties as Record<string, JsonSchema>;
  const recipient = properties.recipient as { properties: Record<string, JsonSchema> };
  recipient.properties.phone = { ...recipient.properties.phone, description: "E.164, e.g. +41791234567" };
  recipient.properties.locale = { ...recipient.properties.locale, description: "BCP 47 language tag, e.g. de-CH" };
  recipient.properties.timeZone = { ...recipient.properties.timeZone, description: "IANA time zone, e.g. Europe/Zurich" };
  if (properties.urlTemplate) {
    properties.urlTemplate = {
      ...properties.urlTemplate,
      description: "Link with placeholders {{code}}, {{codeId}}, {{userId}}, {{tenantId}}, {{loginName}}; give url or urlTemplate, not both",
    };
  }
  // Security notices have no code, but the time of the change.
  if (properties.code) properties.code = { ...properties.code, description: "The secret code; encrypted before it reaches Redis, never returned by the API" };
  if (properties.occurredAt)
    properties.occurredAt = { ...properties.occurredAt, description: "When the change happened (default: when it is enqueued); shown in recipient.timeZone" };
  properties.idempotencyKey = { ...properties.idempotencyKey, description: "A repeat within 24 h answers 202 with the first job's id and deduplicated: true" };
  return { ...schema, examples: [KINDS[kind].example] };
}

export const problemSchema: JsonSchema = {
  type: "object",
  description: "RFC 9457 problem details",
  required: ["type", "title", "status"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    errors: {
      type: "array",
      description: "Every invalid field, not just the first",
      items: {
        type: "object",
        required: ["field", "message"],
        properties: { field: { type: "string", description: "Dotted path, e.g. recipient.email" }, message: { type: "string" } },
      },
    },
  },
};

export const problemResponse = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } } });

export const jsonResponse = (description: string, schema: JsonSchema) => ({ description, content: { "application/json": { schema } } });

const channel = { type: "string", enum: ["email", "sms"] };
const time = { type: "string", format: "date-time" };
const failureClass = { type: "string", enum: [...FAILURE_CLASSES] };

export const acceptedSchema: JsonSchema = {
  type: "object",
  required: ["id", "kind", "channel", "status", "deduplicated"],
  properties: {
    id: { type: "string", description: "Job id, for GET /v1/notifications/{id}" },
    kind: { type: "string" },
    channel,
    status: {
      type: "string",
      enum: ["queued", "active", "retrying", "delivered", "failed", "dead-lettered", "unknown"],
      description: "queued for a new job; for a repeated idempotency key, the first job's current state (as GET /v1/notifications/{id} would say)",
    },
    deduplicated: { type: "boolean", description: "True when the idempotency key repeated; id is then the first job's" },
  },
};

const statusBase = {
  id: { type: "string", description: "The job this status is of; after a replay, the new job's id" },
  originalId: { type: "string", description: "The id asked about, when that job was dead-lettered and replayed as job `id`" },
  kind: { type: "string" },
  channel,
  attempts: { type: "integer", description: "Delivery attempts made" },
  enqueuedAt: time,
};

export const statusSchema: JsonSchema = {
  description: "Where a notification is. Never carries the recipient, code, link or message text.",
  oneOf: [
    { type: "object", required: ["id", "kind", "channel", "status"], properties: { ...statusBase, status: { const: "queued" } } },
    { type: "object", required: ["id", "kind", "channel", "status"], properties: { ...statusBase, status: { const: "active" } } },
    {
      type: "object",
      required: ["id", "kind", "channel", "status"],
      properties: { ...statusBase, status: { const: "retrying" }, nextAttemptAt: time, lastError: { type: "string" }, lastErrorCode: { type: "string" } },
    },
    {
      type: "object",
      required: ["id", "kind", "channel", "status", "provider", "messageId", "deliveredAt"],
      description: "Accepted by the provider (deliveredAt = acceptedAt); `handset` adds what the provider reported later (Twilio status callbacks)",
      properties: {
        ...statusBase,
        status: { const: "delivered" },
        provider: { type: "string" },
        messageId: { type: "string" },
        deliveredAt: time,
        acceptedAt: time,
        handset: {
          type: "object",
          required: ["status", "at"],
          properties: {
            status: { enum: ["accepted", "sent", "delivered", "undelivered"], description: "sent: the carrier has it; delivered/undelivered: its final word" },
            at: time,
            sentAt: time,
            errorCode: { type: "string", description: "With undelivered, e.g. twilio-30003" },
          },
        },
      },
    },
    {
      type: "object",
      description: "Failed for good; the dead-letter mover moves it to the dead-letter queue within a minute",
      required: ["id", "kind", "channel", "status", "reason"],
      properties: { ...statusBase, status: { const: "failed" }, reason: { type: "string" }, failedAt: time },
    },
    {
      type: "object",
      required: ["id", "kind", "channel", "status", "failureClass", "reason", "failedAt", "deadLetterId"],
      properties: {
        ...statusBase,
        status: { const: "dead-lettered" },
        failureClass,
        reason: { type: "string" },
        code: { type: "string", description: "Provider error code, e.g. smtp-550" },
        failedAt: time,
        deadLetterId: { type: "string" },
      },
    },
  ],
};

export const deadLetterSchema: JsonSchema = {
  type: "object",
  description: "A dead letter without its data: no recipient, sealed secrets or message text",
  required: ["id", "kind", "queue", "originalJobId", "attempts", "failureClass", "reason", "failedAt"],
  properties: {
    id: { type: "string", description: "`${queue}-${originalJobId}`" },
    kind: { type: "string" },
    queue: { type: "string" },
    originalJobId: { type: "string" },
    attempts: { type: "integer" },
    failureClass,
    reason: { type: "string", description: "The last error, scrubbed of personal data" },
    code: { type: "string", description: "Provider error code, e.g. smtp-550, twilio-21211" },
    failedAt: time,
  },
};

export const deadLetterPageSchema: JsonSchema = {
  type: "object",
  required: ["total", "offset", "limit", "items"],
  properties: { total: { type: "integer" }, offset: { type: "integer" }, limit: { type: "integer" }, items: { type: "array", items: deadLetterSchema } },
};

export const filterProperties = {
  kind: { type: "string", enum: Object.keys(KINDS) },
  failureClass,
  since: { ...time, description: "Failed at or after" },
  until: { ...time, description: "Failed at or before" },
};
