import { z } from "zod";
import { commonFields, crossField, requireFor, type KindDefinition } from "./common.js";

const schema = z.strictObject({ ...commonFields }).check(crossField((job, ctx) => requireFor("sms", false, job, ctx)));

export type PhoneVerificationJob = z.input<typeof schema>;

export const phoneVerification = {
  kind: "phone-verification",
  summary: "Phone verification code by SMS, sent to the number being verified.",
  schema,
  channels: ["sms"],
  channelOf: () => "sms",
  textKeys: ["sms"],
  showsCode: true,
  example: {
    recipient: { userId: "u-1003", phone: "+41791234567", locale: "de" },
    code: "482913",
    expiresAt: "2030-01-31T12:00:00Z",
  },
  sample: () => ({ code: "739204" }),
} satisfies KindDefinition<typeof schema>;
