import { z } from "zod";
import { commonFields, crossField, requireFor, type KindDefinition } from "./common.js";

const schema = z.strictObject({ ...commonFields }).check(crossField((job, ctx) => requireFor("sms", false, job, ctx)));

export type PhoneVerificationJob = z.input<typeof schema>;

export const phoneVerification = {
  kind: "phone-verification",
  summary: "Phone verification code by SMS, sent to the number being verified.",
  schema,
  channels: ["sms"],
  template: "phone-verification",
  channelOf: () => "sms",
} satisfies KindDefinition<typeof schema>;
