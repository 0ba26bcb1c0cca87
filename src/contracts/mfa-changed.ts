import { z } from "zod";
import { crossField, linkFields, noticeFields, NOTICE_TEXT_KEYS, requireFor, requireTemplateValues, textRef, type KindDefinition } from "./common.js";

/** The second factors ZITADEL's User Human API manages, and the text key naming each in the messages. */
export const FACTORS = {
  "otp-app": "factorOtpApp",
  "otp-sms": "factorOtpSms",
  "otp-email": "factorOtpEmail",
  passkey: "factorPasskey",
  u2f: "factorU2f",
} as const;
export type Factor = keyof typeof FACTORS;

const FACTOR_NAMES = Object.keys(FACTORS) as [Factor, ...Factor[]];

const schema = z
  .strictObject({
    ...noticeFields,
    ...linkFields,
    factor: z.enum(FACTOR_NAMES, { error: (i) => (i.input === undefined ? "is required" : `must be one of ${FACTOR_NAMES.map((f) => `"${f}"`).join(", ")}`) }),
    change: z.enum(["added", "removed"], { error: (i) => (i.input === undefined ? "is required" : 'must be "added" or "removed"') }),
  })
  .check(
    crossField((job, ctx) => {
      requireFor("email", false, job, ctx);
      requireTemplateValues(job, ctx);
    }),
  );

export type MfaChangedJob = z.input<typeof schema>;

export const mfaChanged = {
  kind: "mfa-changed",
  summary: "Security notice: a second factor (OTP app, OTP SMS, OTP email, passkey, U2F) was added or removed, naming which. No code.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  // `detail` is the line naming the factor ("Added: Passkey"); each factor's name is a text of its own.
  textKeys: [...NOTICE_TEXT_KEYS, "detail", ...Object.values(FACTORS)],
  showsCode: false,
  // The factor's name is a text of its own in each locale; `added` picks the wording.
  textVars: (job) => ({ added: job.change === "added", factor: textRef(FACTORS[job.factor]) }),
  example: {
    recipient: { userId: "u-1011", email: "hal@example.com", locale: "pl", timeZone: "Europe/Warsaw" },
    factor: "otp-app",
    change: "removed",
    occurredAt: "2030-01-31T11:58:00Z",
    url: "https://login.example.com/secure",
  },
  sample: ({ baseUrl }) => ({ factor: "passkey", change: "added", url: `${baseUrl}/ui/security?userID=user-4711` }),
} satisfies KindDefinition<typeof schema>;
