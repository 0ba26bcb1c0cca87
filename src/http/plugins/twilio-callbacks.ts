import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsync } from "fastify";
import type { HandsetStatus, NotificationRef, ProviderReports } from "../../queues/provider-reports.js";
import { problemResponse } from "../openapi.js";
import { PROBLEM_TYPES, sendProblem } from "../problem.js";

/** A report that changed a notification's status (repeats and late arrivals never get here). */
export interface AppliedReport {
  provider: "twilio";
  messageId: string;
  status: HandsetStatus;
  at: Date;
  /** `twilio-30003`; with undelivered. */
  errorCode?: string;
  /** Twilio's numeric ErrorCode, for rules that read it (suppression). */
  twilioErrorCode?: number;
  /** The notification it belongs to, while its reference is kept (REPORT_TTL_SECONDS). */
  ref?: NotificationRef;
}

export interface TwilioCallbackOptions {
  /** The full callback URL as given to Twilio (HERALD_PUBLIC_URL + path): what Twilio's signature covers. */
  url: string;
  /** TWILIO_AUTH_TOKEN: the key of Twilio's signature. */
  authToken: string;
  reports: ProviderReports;
  /** Told of every report that changed a status: delivery events, suppression rules. Never fails the callback. */
  onReport?: (report: AppliedReport) => Promise<void> | void;
  /** Logged when onReport fails. */
  onError?: (error: unknown) => void;
}

/** Twilio's MessageStatus values, by what they say about the handset. Unknown ones are acknowledged and ignored. */
const STATUS_OF: Record<string, HandsetStatus> = {
  accepted: "accepted",
  scheduled: "accepted",
  queued: "accepted",
  sending: "accepted",
  sent: "sent",
  delivered: "delivered",
  read: "delivered",
  undelivered: "undelivered",
  failed: "undelivered",
  canceled: "undelivered",
};

type FormParams = Record<string, string[]>;

function parseForm(body: string): FormParams {
  const params: FormParams = {};
  for (const [key, value] of new URLSearchParams(body)) params[key] = [...(params[key] ?? []), value];
  return params;
}

/**
 * Twilio's request signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL followed by
 * every POST parameter's name and value, sorted by name (https://www.twilio.com/docs/usage/security).
 */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  const data =
    url +
    Object.keys(params)
      .sort()
      .map((key) => (params[key] ?? []).map((value) => key + value).join(""))
      .join("");
  return createHmac("sha1", authToken).update(data, "utf8").digest("base64");
}

function signatureMatches(offered: string | undefined, expected: string): boolean {
  if (!offered) return false;
  const a = Buffer.from(offered);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Status callbacks are a few hundred bytes. */
const CALLBACK_BODY_LIMIT = 16 * 1024;

/**
 * `POST /callbacks/twilio` (registered under /v1): Twilio's message status callbacks. No bearer token:
 * `X-Twilio-Signature` must match, else 403 and nothing changes. A report is applied only if it is later
 * than what is stored, so repeats and out-of-order arrivals are harmless.
 */
export const twilioCallbacks: FastifyPluginAsync<TwilioCallbackOptions> = async (app, opts) => {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: CALLBACK_BODY_LIMIT }, (_request, body, done) =>
    done(null, parseForm(String(body))),
  );
  app.post(
    "/callbacks/twilio",
    {
      bodyLimit: CALLBACK_BODY_LIMIT,
      schema: {
        tags: ["callbacks"],
        operationId: "twilio-status-callback",
        summary: "Twilio message status callback",
        description:
          "Where Twilio reports what became of an SMS (StatusCallback, sent with every message when HERALD_PUBLIC_URL is set). Authenticated by X-Twilio-Signature with TWILIO_AUTH_TOKEN, not by a bearer token.",
        consumes: ["application/x-www-form-urlencoded"],
        response: {
          204: { description: "Taken (or a repeat, or older than what is known: ignored)" },
          403: problemResponse("Missing or wrong X-Twilio-Signature"),
        },
      },
    },
    async (request, reply) => {
      const params = (typeof request.body === "object" && request.body !== null ? request.body : {}) as FormParams;
      const offered = request.headers["x-twilio-signature"];
      if (!signatureMatches(typeof offered === "string" ? offered : undefined, twilioSignature(opts.authToken, opts.url, params))) {
        return sendProblem(reply, {
          type: PROBLEM_TYPES.forbidden,
          title: "Forbidden",
          status: 403,
          detail: "X-Twilio-Signature is missing or does not match this callback URL and TWILIO_AUTH_TOKEN.",
        });
      }
      const messageId = params.MessageSid?.[0] ?? params.SmsSid?.[0];
      const status = STATUS_OF[params.MessageStatus?.[0] ?? params.SmsStatus?.[0] ?? ""];
      if (!messageId || !status) return reply.code(204).send();
      const rawCode = Number(params.ErrorCode?.[0]);
      const twilioErrorCode = status === "undelivered" && Number.isInteger(rawCode) && rawCode > 0 ? rawCode : undefined;
      const report = { status, at: new Date(), ...(twilioErrorCode ? { errorCode: `twilio-${twilioErrorCode}` } : {}) };
      if (await opts.reports.apply("twilio", messageId, report)) {
        const ref = await opts.reports.lookup("twilio", messageId);
        try {
          await opts.onReport?.({ provider: "twilio", messageId, ...report, ...(twilioErrorCode ? { twilioErrorCode } : {}), ...(ref ? { ref } : {}) });
        } catch (error) {
          opts.onError?.(error);
        }
      }
      return reply.code(204).send();
    },
  );
};
