import { z } from "zod";
import { baseFields, crossField, EMAIL_TEXT_KEYS, linkFields, requireFor, requireTemplateValues, type KindDefinition } from "./common.js";
import { isoTime, secretCode, text } from "./fields.js";

const inviter = z.strictObject({ displayName: text(200) }, { error: (i: { input: unknown }) => (i.input === undefined ? "is required" : "must be an object") });

const schema = z
  .strictObject({
    ...baseFields,
    ...linkFields,
    /** Who invites: named in the mail, so the invitee knows whom to ask. */
    inviter,
    /** The invite code, if the identity server uses one: it travels inside the link only (secret). */
    code: secretCode.optional(),
    /** When the invitation runs out: shown as its validity; an invitation that expired before delivery is not sent. */
    expiresAt: isoTime.optional(),
  })
  .check(
    crossField((job, ctx) => {
      requireFor("email", true, job, ctx);
      requireTemplateValues(job, ctx);
    }),
  );

export type InviteUserJob = z.input<typeof schema>;

export const inviteUser = {
  kind: "invite-user",
  summary: "Invitation by someone (inviter.displayName) to join a tenant, with a link to accept it.",
  schema,
  channels: ["email"],
  channelOf: () => "email",
  // "This invitation is valid for…": the expiry belongs to the invitation; and its own footer, as the invitee has no account yet.
  textKeys: [...EMAIL_TEXT_KEYS, "expiry", "footer"],
  showsCode: false,
  // The inviter's name is the producer's text: it goes into the body, never into the subject (no room, and phishers love it there).
  textVars: (job) => ({ inviter: job.inviter.displayName }),
  example: {
    recipient: { userId: "u-1008", email: "finn@example.com", firstName: "Finn", locale: "sv" },
    inviter: { displayName: "Grace Hopper" },
    tenant: { id: "acme", name: "Acme" },
    code: "INV-5521",
    urlTemplate: "https://login.example.com/invite?code={{code}}&userId={{userId}}&org={{tenantId}}",
    expiresAt: "2030-02-07T12:00:00Z",
  },
  sample: ({ baseUrl }) => ({ inviter: { displayName: "Grace Hopper" }, code: "J4VQ8N", url: `${baseUrl}/ui/invite?userID=user-4711&code=J4VQ8N` }),
} satisfies KindDefinition<typeof schema>;
