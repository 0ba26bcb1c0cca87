import { z } from "zod";
import { commonFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, type KindDefinition } from "./common.js";

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
  summary: 'Password reset code and link by email, or the code alone by SMS (channel: "sms").',
  schema,
  channels: ["email", "sms"],
  channelOf: (job) => job.channel,
  // Its own footer (a reset nobody asked for is worth a word) and an SMS text for channel "sms".
  textKeys: [...EMAIL_TEXT_KEYS, "footer", "sms"],
  showsCode: true,
  example: {
    recipient: { userId: "u-1004", email: "cy@example.com" },
    code: "RST777",
    urlTemplate: "https://login.example.com/reset?code={{code}}&user={{userId}}",
    channel: "email",
  },
  sample: ({ channel, baseUrl }) =>
    channel === "sms" ? { code: "581634", channel: "sms" } : { code: "581634", url: `${baseUrl}/ui/password/reset?userID=user-4711&code=581634` },
} satisfies KindDefinition<typeof schema>;
