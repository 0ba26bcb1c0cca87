import { z } from "zod";
import { commonFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, type KindDefinition } from "./common.js";
import { text } from "./fields.js";

const schema = z.strictObject({ ...commonFields, ...linkFields, codeId: text(200) }).check(crossField((job, ctx) => requireFor("email", true, job, ctx)));

export type PasskeyLinkJob = z.input<typeof schema>;

export const passkeyLink = {
  kind: "passkey-link",
  summary: "Passkey (passwordless) registration link, with code id and code, to register a new device.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  // "This link is valid for…": the expiry belongs to the link, not to a code the user types.
  textKeys: [...EMAIL_TEXT_KEYS, "expiry"],
  showsCode: false,
  example: {
    recipient: { userId: "u-1005", email: "dee@example.com" },
    code: "PK-secret",
    codeId: "cid-9",
    urlTemplate: "https://login.example.com/passkey?id={{codeId}}&code={{code}}",
  },
  sample: ({ baseUrl }) => ({ code: "7Q2M9X", codeId: "pk-2f6c1e9a", url: `${baseUrl}/ui/passkey/register?userID=user-4711&codeID=pk-2f6c1e9a&code=7Q2M9X` }),
} satisfies KindDefinition<typeof schema>;
