import { z } from "zod";
import { crossField, linkFields, maskEmail, noticeFields, NOTICE_TEXT_KEYS, requireFor, requireTemplateValues, type KindDefinition } from "./common.js";
import { emailAddress } from "./fields.js";

const schema = z
  .strictObject({
    ...noticeFields,
    ...linkFields,
    /**
     * The address that replaced `recipient.email` (which is the OLD one: the notice goes there). Optional;
     * sealed in Redis and shown masked (`a***@example.com`): enough for the owner to recognise a change
     * they made, nothing for whoever reads the old mailbox now (a recycled or shared address).
     */
    newEmail: emailAddress.optional(),
  })
  .check(
    crossField((job, ctx) => {
      requireFor("email", false, job, ctx);
      requireTemplateValues(job, ctx);
    }),
  );

export type EmailChangedJob = z.input<typeof schema>;

export const emailChanged = {
  kind: "email-changed",
  summary: "Security notice to the OLD address: the account's email address was changed (new address shown masked, if given). No code.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  textKeys: NOTICE_TEXT_KEYS,
  showsCode: false,
  textVars: (job) => ({ newEmail: job.newEmail ? maskEmail(job.newEmail) : undefined }),
  example: {
    recipient: { userId: "u-1010", email: "old.address@example.com", locale: "nl", timeZone: "Europe/Amsterdam" },
    newEmail: "new.address@example.org",
    occurredAt: "2030-01-31T11:58:00Z",
    url: "https://login.example.com/secure",
  },
  sample: ({ baseUrl }) => ({ newEmail: "ada@lovelace.example", url: `${baseUrl}/ui/security?userID=user-4711` }),
} satisfies KindDefinition<typeof schema>;
