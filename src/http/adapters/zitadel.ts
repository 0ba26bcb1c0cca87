import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { KindName } from "../../contracts/index.js";
import {
  adapterRoute,
  answerRefusal,
  enqueueJob,
  expiresAfter,
  firstText,
  idempotencyKey,
  isoTimeOf,
  hostOf,
  logAccepted,
  missingField,
  missingThrow,
  parsePayload,
  queryOptions,
  queryParam,
  rawBodies,
  rawBody,
  requiredAs,
  requiredText,
  stripUndefined,
  unauthorized,
  unknownType,
  type AdapterOptions,
} from "./common.js";

/**
 * ZITADEL's HTTP notification providers (email and SMS, "type HTTP"): ZITADEL renders nothing itself and
 * posts `{contextInfo, templateData, args}` as JSON, signed with the provider's signing key in the
 * `ZITADEL-Signature` header (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). Shapes from
 * zitadel/zitadel: internal/notification/types/user_email.go and user_phone.go (the webhook branch),
 * internal/notification/channels/webhook/channel.go, pkg/actions/signing.go.
 */

export const ZITADEL_SIGNATURE_HEADER = "zitadel-signature";
/** ZITADEL's own verifier (pkg/actions) allows 300 s. */
export const ZITADEL_TOLERANCE_SECONDS = 300;

/** Checks `ZITADEL-Signature` over the raw body; throws a 401 refusal saying which check failed. */
export function verifyZitadelSignature(signingKeys: readonly string[], header: string | string[] | undefined, body: string, now = Date.now()): void {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) throw unauthorized("The ZITADEL-Signature header is missing: set this endpoint's signing key as HERALD_ZITADEL_SIGNING_KEY.");
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    const name = part.slice(0, eq).trim();
    const text = part.slice(eq + 1).trim();
    if (eq < 0) continue;
    if (name === "t" && /^\d{1,12}$/.test(text)) timestamp = Number(text);
    if (name === "v1" && /^(?:[0-9a-f]{2})+$/i.test(text)) signatures.push(Buffer.from(text, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) throw unauthorized("The ZITADEL-Signature header is malformed (expected t=<seconds>,v1=<hex>).");
  if (Math.abs(Math.floor(now / 1000) - timestamp) > ZITADEL_TOLERANCE_SECONDS) {
    throw unauthorized(`The ZITADEL-Signature timestamp is more than ${ZITADEL_TOLERANCE_SECONDS} s from now (a replay, or a clock out of sync).`);
  }
  const matches = (key: string) => {
    const expected = createHmac("sha256", key).update(`${timestamp}.${body}`).digest();
    return signatures.some((s) => s.length === expected.length && timingSafeEqual(s, expected));
  };
  if (!signingKeys.some(matches)) {
    throw unauthorized("No ZITADEL-Signature matches the body and HERALD_ZITADEL_SIGNING_KEY.");
  }
}

const payloadSchema = z.object({
  contextInfo: z.object(
    {
      eventType: requiredText,
      recipientEmailAddress: z.string().optional(),
      recipientPhoneNumber: z.string().optional(),
    },
    requiredAs("an object"),
  ),
  templateData: z.object({ url: z.string().optional() }).optional(),
  /** The notification's arguments, keys lower-camel-cased by ZITADEL (`OTP` arrives as `oTP`). */
  args: z.record(z.string(), z.unknown()).optional(),
});

type Payload = z.output<typeof payloadSchema>;

interface Message {
  kind: KindName;
  fields: Record<string, unknown>;
}

/** What a mapping gets: the payload, its args, the link ZITADEL built, and a getter for required values. */
interface Ctx {
  p: Payload;
  args: Record<string, unknown>;
  url?: string;
  code(): string;
  expiresAt?: string;
}

const link = (ctx: Ctx) => {
  if (!ctx.url) throw missingField("templateData.url", "the link ZITADEL built for this message");
  return ctx.url;
};

/** The inviter named in the mail: ZITADEL sends the application's name, else its domain. */
const inviterOf = (ctx: Ctx) => firstText(200, ctx.args.applicationName, ctx.args.domain, hostOf(ctx.url)) ?? "ZITADEL";

/** ZITADEL event types (internal/repository/user and session) sent by email, and the kind each becomes. */
const EMAIL_EVENTS: Record<string, (ctx: Ctx) => Message> = {
  "user.human.initialization.code.added": (ctx) => ({
    kind: "resend-initialization",
    fields: { code: ctx.code(), url: link(ctx), passwordSet: queryParam(link(ctx), "passwordset") === "true", expiresAt: ctx.expiresAt },
  }),
  "user.human.email.code.added": (ctx) => ({ kind: "email-verification", fields: { code: ctx.code(), url: link(ctx), expiresAt: ctx.expiresAt } }),
  "user.human.password.code.added": (ctx) => ({
    kind: "password-reset",
    fields: { code: ctx.code(), url: link(ctx), channel: "email", expiresAt: ctx.expiresAt },
  }),
  "user.human.passwordless.initialization.code.requested": (ctx) => ({
    kind: "passkey-link",
    fields: {
      code: ctx.code(),
      codeId: firstText(200, ctx.args.codeID) ?? missingThrow("args.codeID", "the passkey registration code's id"),
      url: link(ctx),
      expiresAt: ctx.expiresAt,
    },
  }),
  "user.human.mfa.otp.email.code.added": (ctx) => otpEmail(ctx),
  "session.otp.email.challenged": (ctx) => otpEmail(ctx),
  "user.human.invite.code.added": (ctx) => ({
    kind: "invite-user",
    fields: { code: ctx.code(), url: link(ctx), inviter: { displayName: inviterOf(ctx) }, expiresAt: ctx.expiresAt },
  }),
  "user.human.password.changed": (ctx) => ({ kind: "password-changed", fields: { url: ctx.url, occurredAt: isoTimeOf(ctx.args.changeDate) } }),
};

const otpEmail = (ctx: Ctx): Message => ({ kind: "otp-email", fields: { code: ctx.code(), url: ctx.url, expiresAt: ctx.expiresAt } });
const otpSms = (ctx: Ctx): Message => ({ kind: "otp-sms", fields: { code: ctx.code(), expiresAt: ctx.expiresAt } });

/** ZITADEL event types sent by SMS. */
const SMS_EVENTS: Record<string, (ctx: Ctx) => Message> = {
  "user.human.phone.code.added": (ctx) => ({ kind: "phone-verification", fields: { code: ctx.code(), expiresAt: ctx.expiresAt } }),
  "user.human.mfa.otp.sms.code.added": otpSms,
  "session.otp.sms.challenged": otpSms,
  "user.human.password.code.added": (ctx) => ({ kind: "password-reset", fields: { code: ctx.code(), channel: "sms", expiresAt: ctx.expiresAt } }),
};

export const ZITADEL_EMAIL_EVENTS = Object.keys(EMAIL_EVENTS);
export const ZITADEL_SMS_EVENTS = Object.keys(SMS_EVENTS);

/** ZITADEL marshals a Go time.Duration: nanoseconds. */
const expiryOf = (value: unknown) => (typeof value === "number" ? expiresAfter(value / 1e6) : undefined);

export interface ZitadelOptions extends AdapterOptions {
  /** The email and SMS providers' signing keys (either is accepted on both routes). */
  signingKeys: readonly string[];
}

/** `POST /email` and `POST /sms` (register with prefix /v1/adapters/zitadel). */
export async function zitadelAdapter(app: FastifyInstance, opts: ZitadelOptions): Promise<void> {
  rawBodies(app);
  for (const channel of ["email", "sms"] as const) {
    const events = channel === "email" ? EMAIL_EVENTS : SMS_EVENTS;
    const recipientField = channel === "email" ? "recipientEmailAddress" : "recipientPhoneNumber";
    app.post(
      `/${channel}`,
      adapterRoute({
        operationId: `zitadel-${channel}`,
        summary: `ZITADEL HTTP ${channel === "email" ? "email" : "SMS"} provider`,
        description: `Point ZITADEL's HTTP ${channel} provider here. Verifies ZITADEL-Signature with HERALD_ZITADEL_SIGNING_KEY; maps contextInfo.eventType (${Object.keys(events).join(", ")}) to a Herald kind. Query: tenant, locale (ZITADEL does not send the user's language).`,
      }),
      async (request, reply) => {
        try {
          const raw = rawBody(request);
          verifyZitadelSignature(opts.signingKeys, request.headers[ZITADEL_SIGNATURE_HEADER], raw);
          const p = parsePayload(raw, payloadSchema);
          const eventType = p.contextInfo.eventType;
          const map = Object.hasOwn(events, eventType) ? events[eventType] : undefined;
          if (!map) throw unknownType("ZITADEL", "contextInfo.eventType", eventType, Object.keys(events));
          const address = firstText(320, p.contextInfo[recipientField]);
          if (!address) throw missingField(`contextInfo.${recipientField}`, `the ${channel === "email" ? "address" : "number"} ZITADEL sends this message to`);
          const args = p.args ?? {};
          const ctx: Ctx = {
            p,
            args,
            url: firstText(2048, p.templateData?.url),
            code: () => firstText(256, args.oTP, args.code) ?? missingThrow("args.code", "the code ZITADEL generated for this message"),
            expiresAt: expiryOf(args.expiry),
          };
          const message = map(ctx);
          const query = queryOptions(request, opts);
          const userId = firstText(200, args.userID, args.preferredLoginName, args.userName) ?? missingThrow("args.userID", "the user the message is for");
          const job = {
            ...stripUndefined(message.fields),
            recipient: stripUndefined({
              userId,
              [channel === "email" ? "email" : "phone"]: address,
              displayName: firstText(200, args.displayName),
              firstName: firstText(100, args.firstName),
              lastName: firstText(100, args.lastName),
              loginName: firstText(200, args.preferredLoginName, args.loginName),
              locale: query.locale,
            }),
            ...(query.tenant ? { tenant: query.tenant } : {}),
            // ZITADEL sends no message id: its retries of one notification carry the same event, user and code
            // (or time). A notice with neither is told apart by its whole body, so a second genuine one is not
            // taken for a retry of the first.
            idempotencyKey: idempotencyKey(opts, "zitadel", [
              eventType,
              address,
              userId,
              args.codeID,
              args.oTP ?? args.code,
              message.kind === "password-changed" ? (args.changeDate ?? `body:${raw}`) : undefined,
            ]),
          };
          const result = await enqueueJob(opts, message.kind, job as never);
          logAccepted(request, "zitadel", eventType, [result]);
          return reply.code(200).send({ id: result.id, kind: result.kind, channel: result.channel, deduplicated: result.deduplicated });
        } catch (error) {
          return answerRefusal(reply, error);
        }
      },
    );
  }
}
