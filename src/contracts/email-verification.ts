import { z } from "zod";
import { commonFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, type KindDefinition } from "./common.js";

const schema = z.strictObject({ ...commonFields, ...linkFields }).check(crossField((job, ctx) => requireFor("email", true, job, ctx)));

export type EmailVerificationJob = z.input<typeof schema>;

export const emailVerification = {
  kind: "email-verification",
  summary: "Email verification code and link, sent to the address being verified.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  textKeys: EMAIL_TEXT_KEYS,
  showsCode: true,
  example: {
    recipient: { userId: "u-1002", email: "bob@example.com", locale: "en" },
    code: "VER123",
    url: "https://login.example.com/verify?c=VER123",
  },
  sample: ({ baseUrl }) => ({ code: "482915", url: `${baseUrl}/ui/verify-email?userID=user-4711&code=482915` }),
} satisfies KindDefinition<typeof schema>;
