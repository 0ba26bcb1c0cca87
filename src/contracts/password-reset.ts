import { z } from "zod";
import { commonFields, linkFields, requireFor, type KindDefinition } from "./common.js";

const schema = z
  .strictObject({
    ...commonFields,
    ...linkFields,
    channel: z.enum(["email", "sms"], { error: 'must be "email" or "sms"' }).default("email"),
  })
  // An SMS carries the code only, so the link is required for email alone.
  .superRefine((job, ctx) => requireFor(job.channel, job.channel === "email", job, ctx));

export type PasswordResetJob = z.input<typeof schema>;

export const passwordReset = {
  kind: "password-reset",
  summary: "Password reset code and link by email, or the code alone by SMS (channel: \"sms\").",
  schema,
  channels: ["email", "sms"],
  template: "password-reset",
  channelOf: (job) => job.channel,
} satisfies KindDefinition<typeof schema>;
