import { z } from "zod";
import { commonFields, crossField, linkFields, requireFor, type KindDefinition } from "./common.js";

const schema = z
  .strictObject({ ...commonFields, ...linkFields })
  .check(crossField((job, ctx) => requireFor("email", true, job, ctx)));

export type EmailVerificationJob = z.input<typeof schema>;

export const emailVerification = {
  kind: "email-verification",
  summary: "Email verification code and link, sent to the address being verified.",
  schema,
  channels: ["email"],
  template: "email-verification",
  channelOf: () => "email",
} satisfies KindDefinition<typeof schema>;
