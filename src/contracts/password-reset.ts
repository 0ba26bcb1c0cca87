import { z } from "zod";
import { commonFields, crossField, linkFields, requireFor, type KindDefinition } from "./common.js";

const schema = z
  .strictObject({
    ...commonFields,
    ...linkFields,
    channel: z.enum(["email", "sms"], { error: 'must be "email" or "sms"' }).default("email"),
  })
  // An SMS carries the code only, so the link is required for email alone.
  .check(
    crossField((job, ctx) => {
      const channel = job.channel ?? "email";
      if (channel === "email" || channel === "sms") requireFor(channel, channel === "email", job, ctx);
    }),
  );

export type PasswordResetJob = z.input<typeof schema>;

export const passwordReset = {
  kind: "password-reset",
  summary: "Password reset code and link by email, or the code alone by SMS (channel: \"sms\").",
  schema,
  channels: ["email", "sms"],
  template: "password-reset",
  channelOf: (job) => job.channel,
} satisfies KindDefinition<typeof schema>;
