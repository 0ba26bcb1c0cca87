import { z } from "zod";
import { commonFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, type KindDefinition } from "./common.js";

// The code is what the user types; a link (e.g. back to the sign-in page) is optional, as in ZITADEL's OTP email.
const schema = z.strictObject({ ...commonFields, ...linkFields }).check(crossField((job, ctx) => requireFor("email", false, job, ctx)));

export type OtpEmailJob = z.input<typeof schema>;

export const otpEmail = {
  kind: "otp-email",
  summary: "Sign-in one-time code (second factor) by email; a link is optional.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  // Its own footer: a code nobody asked for means someone knows the password.
  textKeys: [...EMAIL_TEXT_KEYS, "footer"],
  showsCode: true,
  example: {
    recipient: { userId: "u-1007", email: "eve@example.com", locale: "es" },
    code: "318274",
    expiresAt: "2030-01-31T12:05:00Z",
  },
  sample: () => ({ code: "318274" }),
} satisfies KindDefinition<typeof schema>;
