import { z } from "zod";
import { commonFields, crossField, linkFields, requireFor, type KindDefinition } from "./common.js";
import { text } from "./fields.js";

const schema = z
  .strictObject({ ...commonFields, ...linkFields, codeId: text(200) })
  .check(crossField((job, ctx) => requireFor("email", true, job, ctx)));

export type PasskeyLinkJob = z.input<typeof schema>;

export const passkeyLink = {
  kind: "passkey-link",
  summary: "Passkey (passwordless) registration link, with code id and code, to register a new device.",
  schema,
  channels: ["email"],
  template: "passkey-link",
  channelOf: () => "email",
} satisfies KindDefinition<typeof schema>;
