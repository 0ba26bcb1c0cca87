import { z } from "zod";
import { crossField, linkFields, noticeFields, NOTICE_TEXT_KEYS, requireFor, requireTemplateValues, type KindDefinition } from "./common.js";

const schema = z.strictObject({ ...noticeFields, ...linkFields }).check(
  crossField((job, ctx) => {
    requireFor("email", false, job, ctx);
    requireTemplateValues(job, ctx);
  }),
);

export type PasswordChangedJob = z.input<typeof schema>;

export const passwordChanged = {
  kind: "password-changed",
  summary: 'Security notice: the password was changed (when, and an optional "this was not me" link). No code.',
  schema,
  channels: ["email"],
  channelOf: () => "email",
  textKeys: NOTICE_TEXT_KEYS,
  showsCode: false,
  example: {
    recipient: { userId: "u-1009", email: "gus@example.com", locale: "it", timeZone: "Europe/Rome" },
    occurredAt: "2030-01-31T11:58:00Z",
    urlTemplate: "https://login.example.com/secure?userId={{userId}}",
  },
  sample: ({ baseUrl }) => ({ url: `${baseUrl}/ui/security?userID=user-4711` }),
} satisfies KindDefinition<typeof schema>;
