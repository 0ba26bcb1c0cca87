import { z } from "zod";
import { commonFields, crossField, linkFields, requireFor, type KindDefinition } from "./common.js";

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
  template: "resend-initialization",
  channelOf: () => "email",
} satisfies KindDefinition<typeof schema>;
