import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { KindName } from "../../contracts/index.js";
import type { Factor } from "../../contracts/mfa-changed.js";
import { verifyWebhook, WebhookVerificationError } from "../../webhooks/standard-webhooks.js";
import { PROBLEM_CONTENT_TYPE } from "../problem.js";
import {
  adapterRoute,
  answerRefusal,
  enqueueJob,
  enqueueJobs,
  firstLocale,
  firstText,
  hostOf,
  idempotencyKey,
  logAccepted,
  missingThrow,
  parsePayload,
  queryOptions,
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
 * Supabase Auth's Send Email and Send SMS hooks (HTTP hooks, signed per Standard Webhooks with the
 * hook's `v1,whsec_…` secret). Shapes from supabase/auth: internal/hooks/v0hooks/v0hooks.go
 * (SendEmailInput, SendSMSInput), internal/mailer/mailer.go (EmailData, action types),
 * internal/api/mail.go (what each action type carries), internal/hooks/hookshttp/hookshttp.go (headers,
 * retries, the `{error: {http_code, message}}` answer it reads).
 */

const object = requiredAs("an object");
const optionalString = z.string().nullish();

const userSchema = z.object(
  {
    id: requiredText,
    email: optionalString,
    phone: optionalString,
    new_email: optionalString,
    phone_confirmed_at: optionalString,
    user_metadata: z.record(z.string(), z.unknown()).nullish(),
  },
  object,
);

/**
 * Generated once per hook invocation; unlike webhook-id (new for each of Supabase's retries) it names the
 * message. Without it the idempotency key comes from the message's content (user, action, tokens, addresses).
 */
const metadataSchema = z.object({ uuid: z.string().optional() }).nullish();

const emailSchema = z.object({
  metadata: metadataSchema,
  user: userSchema,
  email_data: z.object(
    {
      email_action_type: requiredText,
      token: optionalString,
      token_hash: optionalString,
      redirect_to: optionalString,
      site_url: optionalString,
      token_new: optionalString,
      token_hash_new: optionalString,
      old_email: optionalString,
      factor_type: optionalString,
    },
    object,
  ),
});

const smsSchema = z.object({
  metadata: metadataSchema,
  user: userSchema,
  sms: z.object({ otp: requiredText, phone: optionalString, sms_type: optionalString }, object),
});

type EmailPayload = z.output<typeof emailSchema>;
type User = z.output<typeof userSchema>;

interface Message {
  kind: KindName;
  /** The address it goes to (the job's recipient.email). */
  to: string;
  fields: Record<string, unknown>;
  /** Tells two messages of one hook call apart in the idempotency key (email change: current and new address). */
  part?: string;
}

/** Supabase's verify endpoint, as its own templates build ConfirmationURL: `<site_url>/verify?token=…&type=…&redirect_to=…`. */
function verifyLink(data: EmailPayload["email_data"], tokenHash: string | null | undefined, type: string): string {
  const site = firstText(2048, data.site_url) ?? missingThrow("email_data.site_url", "the Auth server's URL the link points to");
  const hash = firstText(1024, tokenHash) ?? missingThrow("email_data.token_hash", "the token the link carries");
  const query = new URLSearchParams({ token: hash, type });
  if (data.redirect_to) query.set("redirect_to", data.redirect_to);
  return `${site.replace(/\/+$/, "")}/verify?${query}`;
}

const code = (token: string | null | undefined, field = "email_data.token") => firstText(256, token) ?? missingThrow(field, "the code Supabase generated");
const emailOf = (user: User) => firstText(320, user.email) ?? missingThrow("user.email", "the address Supabase sends this message to");

/** Supabase's factor_type → Herald's factor. */
const FACTORS: Record<string, Factor> = { totp: "otp-app", phone: "otp-sms", webauthn: "passkey" };

/** email_data.email_action_type → the messages it becomes. */
const EMAIL_ACTIONS: Record<string, (p: EmailPayload) => Message[]> = {
  signup: ({ user, email_data: d }) => [
    { kind: "email-verification", to: emailOf(user), fields: { code: code(d.token), url: verifyLink(d, d.token_hash, "signup") } },
  ],
  invite: ({ user, email_data: d }) => [
    {
      kind: "invite-user",
      to: emailOf(user),
      fields: {
        code: firstText(256, d.token),
        url: verifyLink(d, d.token_hash, "invite"),
        inviter: {
          displayName:
            firstText(200, user.user_metadata?.invited_by, user.user_metadata?.inviter, hostOf(d.redirect_to ?? undefined), hostOf(d.site_url ?? undefined)) ??
            "Supabase",
        },
      },
    },
  ],
  magiclink: ({ user, email_data: d }) => [
    { kind: "otp-email", to: emailOf(user), fields: { code: code(d.token), url: verifyLink(d, d.token_hash, "magiclink") } },
  ],
  email: ({ user, email_data: d }) => [
    {
      kind: "otp-email",
      to: emailOf(user),
      fields: { code: code(d.token), url: d.token_hash && d.site_url ? verifyLink(d, d.token_hash, "email") : undefined },
    },
  ],
  recovery: ({ user, email_data: d }) => [
    { kind: "password-reset", to: emailOf(user), fields: { code: code(d.token), url: verifyLink(d, d.token_hash, "recovery"), channel: "email" } },
  ],
  // With secure email change (token_new set) both addresses confirm; Supabase pairs token with
  // token_hash_new and token_new with token_hash (see the note in internal/api/mail.go). Else only the new one.
  email_change: ({ user, email_data: d }) => {
    const newAddress = firstText(320, user.new_email) ?? missingThrow("user.new_email", "the address being confirmed");
    if (firstText(256, d.token_new) && firstText(320, user.email)) {
      return [
        {
          kind: "email-verification",
          to: emailOf(user),
          part: "current",
          fields: { code: code(d.token), url: verifyLink(d, d.token_hash_new, "email_change") },
        },
        {
          kind: "email-verification",
          to: newAddress,
          part: "new",
          fields: { code: code(d.token_new, "email_data.token_new"), url: verifyLink(d, d.token_hash, "email_change") },
        },
      ];
    }
    return [{ kind: "email-verification", to: newAddress, fields: { code: code(d.token), url: verifyLink(d, d.token_hash, "email_change") } }];
  },
  reauthentication: ({ user, email_data: d }) => [{ kind: "otp-email", to: emailOf(user), fields: { code: code(d.token) } }],
  password_changed_notification: ({ user }) => [{ kind: "password-changed", to: emailOf(user), fields: {} }],
  // The notice goes to the old address and names the new one, masked.
  email_changed_notification: ({ user, email_data: d }) => [
    {
      kind: "email-changed",
      to: firstText(320, d.old_email) ?? missingThrow("email_data.old_email", "the previous address the notice goes to"),
      fields: { newEmail: firstText(320, user.email) },
    },
  ],
  mfa_factor_enrolled_notification: (p) => [mfaNotice(p, "added")],
  mfa_factor_unenrolled_notification: (p) => [mfaNotice(p, "removed")],
};

function mfaNotice({ user, email_data: d }: EmailPayload, change: "added" | "removed"): Message {
  const type = firstText(50, d.factor_type) ?? missingThrow("email_data.factor_type", "the second factor that changed");
  const factor = Object.hasOwn(FACTORS, type) ? FACTORS[type] : undefined;
  if (!factor) throw unknownType("Supabase", "email_data.factor_type", type, Object.keys(FACTORS));
  return { kind: "mfa-changed", to: emailOf(user), fields: { factor, change } };
}

export const SUPABASE_EMAIL_ACTIONS = Object.keys(EMAIL_ACTIONS);

/** Supabase stores numbers without the `+` of E.164 (internal/api/phone.go); Herald wants it. */
const e164 = (phone: string) => (phone.startsWith("+") ? phone : `+${phone}`);

function recipientOf(user: User, locale: string | undefined) {
  const meta = user.user_metadata ?? {};
  return {
    userId: user.id,
    displayName: firstText(200, meta.full_name, meta.name, meta.display_name),
    firstName: firstText(100, meta.first_name, meta.given_name),
    lastName: firstText(100, meta.last_name, meta.family_name),
    locale: firstLocale(meta.locale, meta.language, meta.lang) ?? locale,
  };
}

/** Supabase reads `{error: {http_code, message}}` (internal/hooks/hookserrors); Herald's problem details become that. */
function supabaseErrors(app: FastifyInstance): void {
  app.addHook("onSend", async (_request, reply: FastifyReply, payload) => {
    const type = String(reply.getHeader("content-type") ?? "");
    if (!type.startsWith(PROBLEM_CONTENT_TYPE) || typeof payload !== "string") return payload;
    let detail = "Herald refused the hook";
    try {
      const problem = JSON.parse(payload) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? detail;
    } catch {}
    reply.header("content-type", "application/json; charset=utf-8");
    return JSON.stringify({ error: { http_code: reply.statusCode, message: detail } });
  });
}

export interface SupabaseOptions extends AdapterOptions {
  /** `whsec_…` secrets (the `v1,` Supabase shows already removed). */
  secrets: readonly string[];
}

/** `POST /email` (Send Email hook) and `POST /sms` (Send SMS hook); register with prefix /v1/adapters/supabase. */
export async function supabaseAdapter(app: FastifyInstance, opts: SupabaseOptions): Promise<void> {
  rawBodies(app);
  supabaseErrors(app);

  const verified = (headers: Record<string, string | string[] | undefined>, raw: string) => {
    try {
      return verifyWebhook(opts.secrets, headers, raw);
    } catch (error) {
      if (error instanceof WebhookVerificationError) throw unauthorized(`Standard Webhooks signature refused: ${error.message}.`);
      throw error;
    }
  };
  const route = (name: string, description: string) =>
    adapterRoute({ operationId: `supabase-${name}`, summary: `Supabase Auth Send ${name === "email" ? "Email" : "SMS"} hook`, description });

  app.post(
    "/email",
    route(
      "email",
      `Supabase Auth's Send Email hook. Verifies the Standard Webhooks signature with HERALD_SUPABASE_HOOK_SECRET; maps email_data.email_action_type (${SUPABASE_EMAIL_ACTIONS.join(", ")}). Query: tenant, locale (default for users without user_metadata.locale).`,
    ),
    async (request, reply) => {
      try {
        const raw = rawBody(request);
        verified(request.headers, raw);
        const p = parsePayload(raw, emailSchema);
        const action = p.email_data.email_action_type;
        const map = Object.hasOwn(EMAIL_ACTIONS, action) ? EMAIL_ACTIONS[action] : undefined;
        if (!map) throw unknownType("Supabase", "email_data.email_action_type", action, SUPABASE_EMAIL_ACTIONS);
        const messages = map(p);
        const query = queryOptions(request, opts);
        const d = p.email_data;
        // Without metadata.uuid, the message's content: webhook-id changes with each of Supabase's retries.
        const messageId =
          firstText(200, p.metadata?.uuid) ??
          `content:${[p.user.id, action, d.token_hash, d.token, d.token_hash_new, d.token_new, p.user.new_email, p.user.email].map((v) => v ?? "").join("\u0000")}`;
        const results = await enqueueJobs(
          opts,
          messages.map((m) => ({
            kind: m.kind,
            job: {
              ...stripUndefined(m.fields),
              recipient: stripUndefined({ ...recipientOf(p.user, query.locale), email: m.to }),
              ...(query.tenant ? { tenant: query.tenant } : {}),
              idempotencyKey: idempotencyKey(opts, "supabase", [messageId, action, m.part]),
            },
          })),
        );
        logAccepted(request, "supabase", action, results);
        return reply.code(200).type("application/json").send({});
      } catch (error) {
        return answerRefusal(reply, error);
      }
    },
  );

  app.post(
    "/sms",
    route(
      "sms",
      "Supabase Auth's Send SMS hook. Verifies the Standard Webhooks signature with HERALD_SUPABASE_HOOK_SECRET. sms_type mfa → otp-sms; a number not yet confirmed (or not the user's confirmed one) → phone-verification; else otp-sms (sign-in code).",
    ),
    async (request, reply) => {
      try {
        const raw = rawBody(request);
        verified(request.headers, raw);
        const p = parsePayload(raw, smsSchema);
        const smsType = firstText(50, p.sms.sms_type);
        if (smsType && smsType !== "mfa") throw unknownType("Supabase", "sms.sms_type", smsType, ["mfa", "(none)"]);
        const phone = firstText(32, p.sms.phone, p.user.phone) ?? missingThrow("sms.phone", "the number Supabase sends this code to");
        const confirmedNumber = p.user.phone_confirmed_at && p.user.phone ? e164(p.user.phone) : undefined;
        // Supabase does not say why it sends a code: a number being confirmed gets a verification text,
        // the user's confirmed number a sign-in code.
        const kind: KindName = smsType === "mfa" || confirmedNumber === e164(phone) ? "otp-sms" : "phone-verification";
        const query = queryOptions(request, opts);
        const job = {
          code: p.sms.otp,
          recipient: stripUndefined({ ...recipientOf(p.user, query.locale), phone: e164(phone) }),
          ...(query.tenant ? { tenant: query.tenant } : {}),
          // Without metadata.uuid, the message's content: webhook-id changes with each of Supabase's retries.
          idempotencyKey: idempotencyKey(opts, "supabase", [
            firstText(200, p.metadata?.uuid) ?? `content:${[p.user.id, smsType ?? "", p.sms.otp, e164(phone)].join("\u0000")}`,
            "sms",
          ]),
        };
        const result = await enqueueJob(opts, kind, job as never);
        logAccepted(request, "supabase", smsType ?? "sms", [result]);
        return reply.code(200).type("application/json").send({});
      } catch (error) {
        return answerRefusal(reply, error);
      }
    },
  );
}
