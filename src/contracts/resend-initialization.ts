import { z } from "zod";
import { commonFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, type KindDefinition } from "./common.js";

const schema = z
  .strictObject({
    ...commonFields,
    ...linkFields,
    /** Whether the user already has a password; the mail then only asks to verify and finish set-up. */
    passwordSet: z.boolean({ error: "must be true or false" }).default(false),
  })
  .check(crossField((job, ctx) => requireFor("email", true, job, ctx)));

export type ResendInitializationJob = z.input<typeof schema>;

export const resendInitialization = {
  kind: "resend-initialization",
  summary: "Account initialization mail: init code and a link to finish set-up.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  textKeys: EMAIL_TEXT_KEYS,
  showsCode: true,
  example: {
    recipient: { userId: "u-1001", email: "ada@example.com", firstName: "Ada", locale: "de-CH" },
    code: "INIT4242",
    urlTemplate: "https://login.example.com/init?code={{code}}&userId={{userId}}",
    passwordSet: false,
    idempotencyKey: "init-u-1001-1",
  },
  sample: ({ baseUrl }) => ({ code: "KXM4TQ", url: `${baseUrl}/ui/init?userID=user-4711&code=KXM4TQ` }),
} satisfies KindDefinition<typeof schema>;
