import { z } from "zod";
import { commonFields, crossField, requireFor, type KindDefinition } from "./common.js";

const schema = z.strictObject({ ...commonFields }).check(crossField((job, ctx) => requireFor("sms", false, job, ctx)));

export type OtpSmsJob = z.input<typeof schema>;

export const otpSms = {
  kind: "otp-sms",
  summary: "Sign-in one-time code (second factor) by SMS.",
  schema,
  channels: ["sms"],
  channelOf: () => "sms",
  textKeys: ["sms"],
  showsCode: true,
  example: {
    recipient: { userId: "u-1006", phone: "+41791234567", locale: "fr" },
    code: "904512",
    expiresAt: "2030-01-31T12:05:00Z",
  },
  sample: () => ({ code: "904512" }),
} satisfies KindDefinition<typeof schema>;
