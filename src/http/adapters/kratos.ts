import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { KindName } from "../../contracts/index.js";
import {
  adapterRoute,
  AdapterRefusal,
  answerRefusal,
  enqueueJob,
  expiresAfter,
  firstLocale,
  firstText,
  idempotencyKey,
  isoTimeOf,
  logAccepted,
  missingThrow,
  parsePayload,
  queryOptions,
  queryParam,
  rawBodies,
  rawBody,
  requiredText,
  stripUndefined,
  unauthorized,
  unknownType,
  type AdapterOptions,
} from "./common.js";
import { secretDigest, secretMatches } from "../auth.js";
import { PROBLEM_TYPES } from "../problem.js";

/**
 * Ory Kratos's courier with `delivery_strategy: http` (and SMS channels of type http): for each message
 * Kratos evaluates the request body's Jsonnet with `ctx` = {recipient, template_type, template_data,
 * message_type, …} and posts the result. Herald's Jsonnet (adapters/kratos/body.jsonnet) passes the
 * fields below through unchanged. Kratos can authenticate only with an API key header or HTTP Basic
 * (request/auth.go), and signs nothing. Shapes from ory/kratos: courier/http_channel.go (httpDataModel),
 * courier/template/type.go (template types), courier/template/{email,sms}/*.go (template_data fields).
 */

const record = z.record(z.string(), z.unknown());

const payloadSchema = z.object({
  recipient: z.string().nullish(),
  template_type: requiredText,
  /** "email" or "sms" (Kratos's MessageType); older Kratos versions do not send it. */
  message_type: z.string().nullish(),
  template_data: record.nullish(),
});

type Payload = z.output<typeof payloadSchema>;

interface Ctx {
  channel: "email" | "sms";
  data: Record<string, unknown>;
  expiresAt?: string;
}

interface Message {
  kind: KindName;
  fields: Record<string, unknown>;
}

const need = (ctx: Ctx, what: string, ...keys: string[]): string => {
  for (const key of keys) {
    const value = firstText(2048, ctx.data[key]);
    if (value) return value;
  }
  return missingThrow(`template_data.${keys[0]}`, what);
};

/** A link-method message (recovery_valid, verification_valid): its token is the code the job carries. */
const linkWithToken = (ctx: Ctx, key: string): { url: string; code: string } => {
  const url = need(ctx, "the link Kratos built", key);
  const token = queryParam(url, "token") ?? missingThrow(`template_data.${key}`, "a link with its token parameter");
  return { url, code: token };
};

/** template_type → kind, per channel (Kratos sends code templates by SMS too). Absent: no kind for it. */
const TEMPLATES: Record<string, Partial<Record<Ctx["channel"], (ctx: Ctx) => Message>>> = {
  recovery_code_valid: {
    // The code is typed into the recovery flow; request_url is where that flow began.
    email: (ctx) => ({
      kind: "password-reset",
      fields: {
        code: need(ctx, "the recovery code", "recovery_code"),
        url: need(ctx, "the recovery flow's URL", "request_url"),
        channel: "email",
        expiresAt: ctx.expiresAt,
      },
    }),
    // Kratos's SMS recovery model names its code verification_code (courier/template/sms/recovery_code.go).
    sms: (ctx) => ({
      kind: "password-reset",
      fields: { code: need(ctx, "the recovery code", "verification_code", "recovery_code"), channel: "sms", expiresAt: ctx.expiresAt },
    }),
  },
  recovery_valid: {
    email: (ctx) => ({ kind: "password-reset", fields: { ...linkWithToken(ctx, "recovery_url"), channel: "email", expiresAt: ctx.expiresAt } }),
  },
  verification_code_valid: {
    email: (ctx) => ({
      kind: "email-verification",
      fields: {
        code: need(ctx, "the verification code", "verification_code"),
        url: need(ctx, "the verification link", "verification_url"),
        expiresAt: ctx.expiresAt,
      },
    }),
    sms: (ctx) => ({ kind: "phone-verification", fields: { code: need(ctx, "the verification code", "verification_code"), expiresAt: ctx.expiresAt } }),
  },
  verification_valid: {
    email: (ctx) => ({ kind: "email-verification", fields: { ...linkWithToken(ctx, "verification_url"), expiresAt: ctx.expiresAt } }),
  },
  login_code_valid: {
    email: (ctx) => ({ kind: "otp-email", fields: { code: need(ctx, "the login code", "login_code"), expiresAt: ctx.expiresAt } }),
    sms: (ctx) => ({ kind: "otp-sms", fields: { code: need(ctx, "the login code", "login_code"), expiresAt: ctx.expiresAt } }),
  },
  // A registration code proves the address belongs to the person signing up.
  registration_code_valid: {
    email: (ctx) => ({
      kind: "email-verification",
      fields: {
        code: need(ctx, "the registration code", "registration_code"),
        url: need(ctx, "the registration flow's URL", "request_url"),
        expiresAt: ctx.expiresAt,
      },
    }),
    sms: (ctx) => ({ kind: "phone-verification", fields: { code: need(ctx, "the registration code", "registration_code"), expiresAt: ctx.expiresAt } }),
  },
  // Sent to a previous address after a change (the notify_previous_addresses hook).
  verifiable_address_changed: {
    email: (ctx) => ({ kind: "email-changed", fields: { occurredAt: isoTimeOf(ctx.data.changed_at) } }),
  },
  // "A new sign-in method (device key) was added": a passkey/WebAuthn key.
  authenticator_key_added: {
    email: (ctx) => ({ kind: "mfa-changed", fields: { factor: "passkey", change: "added", occurredAt: isoTimeOf(ctx.data.added_at) } }),
  },
};

export const KRATOS_TEMPLATES = Object.keys(TEMPLATES);

/** The keys of an object value, or an empty object. */
const obj = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** Names and language from the identity's traits (Kratos has no fixed schema: the common spellings), else the flow's transient payload. */
function personOf(data: Record<string, unknown>, recipient: string, locale: string | undefined) {
  const identity = obj(data.identity);
  const traits = { ...obj(data.traits), ...obj(identity.traits) };
  const meta = obj(identity.metadata_public);
  const transient = obj(data.transient_payload);
  const name = traits.name;
  const names = obj(name);
  return {
    // A registration has no identity yet: a stable id that is not the address.
    userId: firstText(200, identity.id, identity.ID) ?? `kratos-${createHash("sha256").update(recipient).digest("base64url").slice(0, 22)}`,
    displayName: typeof name === "string" ? firstText(200, name) : firstText(200, traits.display_name),
    firstName: firstText(100, names.first, names.given, traits.first_name, traits.given_name),
    lastName: firstText(100, names.last, names.family, traits.last_name, traits.family_name),
    locale: firstLocale(traits.locale, traits.language, traits.lang, meta.locale, meta.language, transient.locale, transient.language) ?? locale,
  };
}

/** `Authorization: Bearer <key>` (api_key) or `Basic` with the key as password (basic_auth). */
export function checkKratosAuth(apiKeyDigest: Buffer, authorization: string | undefined): void {
  if (!authorization)
    throw unauthorized("No Authorization header: set courier.http.request_config.auth in Kratos (api_key: Authorization: Bearer <HERALD_KRATOS_API_KEY>).");
  const [scheme = "", value = ""] = authorization.trim().split(/\s+/, 2);
  let given: string | undefined;
  if (/^bearer$/i.test(scheme)) given = value;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    given = decoded.includes(":") ? decoded.slice(decoded.indexOf(":") + 1) : undefined;
  }
  if (given === undefined || !secretMatches(given, apiKeyDigest)) throw unauthorized("The Authorization header does not carry HERALD_KRATOS_API_KEY.");
}

export interface KratosOptions extends AdapterOptions {
  apiKey: string;
}

/** `POST /` (register with prefix /v1/adapters/kratos): the courier's email and SMS channels alike. */
export async function kratosAdapter(app: FastifyInstance, opts: KratosOptions): Promise<void> {
  const apiKeyDigest = secretDigest(opts.apiKey);
  rawBodies(app);
  app.post(
    "/",
    adapterRoute({
      operationId: "kratos-courier",
      summary: "Ory Kratos courier (HTTP delivery)",
      description: `Point Kratos's courier.http.request_config (and SMS channels) here with adapters/kratos/body.jsonnet. Checks Authorization against HERALD_KRATOS_API_KEY; maps template_type (${KRATOS_TEMPLATES.join(", ")}) by message_type. Query: tenant, locale.`,
    }),
    async (request, reply) => {
      try {
        checkKratosAuth(apiKeyDigest, request.headers.authorization);
        const raw = rawBody(request);
        const p: Payload = parsePayload(raw, payloadSchema);
        const recipient = firstText(320, p.recipient) ?? missingThrow("recipient", "the address or number Kratos sends this message to");
        const messageType = firstText(10, p.message_type) ?? (recipient.includes("@") ? "email" : "sms");
        if (messageType !== "email" && messageType !== "sms") throw unknownType("Kratos", "message_type", messageType, ["email", "sms"]);
        const byChannel = Object.hasOwn(TEMPLATES, p.template_type) ? TEMPLATES[p.template_type] : undefined;
        if (!byChannel) throw unknownType("Kratos", "template_type", p.template_type, KRATOS_TEMPLATES);
        const map = byChannel[messageType];
        if (!map) {
          throw new AdapterRefusal(
            422,
            "Unknown message type",
            `Kratos template_type "${p.template_type}" has no Herald kind by ${messageType}; nothing was queued.`,
            PROBLEM_TYPES.unknownMessageType,
            [{ field: "message_type", message: `"${p.template_type}" is not sent by ${messageType}` }],
          );
        }
        const data = p.template_data ?? {};
        const minutes = typeof data.expires_in_minutes === "number" ? data.expires_in_minutes : undefined;
        const message = map({ channel: messageType, data, expiresAt: expiresAfter(minutes === undefined ? undefined : minutes * 60_000) });
        const query = queryOptions(request, opts);
        const job = {
          ...stripUndefined(message.fields),
          recipient: stripUndefined({ ...personOf(data, recipient, query.locale), [messageType === "email" ? "email" : "phone"]: recipient }),
          ...(query.tenant ? { tenant: query.tenant } : {}),
          // Kratos sends no message id; a message it sends again (courier retries) has the same type, recipient and
          // code, link or time. A notice without any of them is told apart by its whole body, so a second genuine
          // one is not taken for a retry of the first.
          idempotencyKey: idempotencyKey(opts, "kratos", [
            p.template_type,
            messageType,
            recipient,
            message.fields.code ?? message.fields.url ?? data.changed_at ?? data.added_at ?? `body:${raw}`,
          ]),
        };
        const result = await enqueueJob(opts, message.kind, job as never);
        logAccepted(request, "kratos", p.template_type, [result]);
        return reply.code(200).send({ id: result.id, kind: result.kind, channel: result.channel, deduplicated: result.deduplicated });
      } catch (error) {
        return answerRefusal(reply, error);
      }
    },
  );
}
