import { kindDefinition, type ChannelName, type KindName } from "../contracts/index.js";

// Realistic sample jobs for previews (CLI and the HTTP gallery): what a producer would send.

export interface SampleOptions {
  /** recipient.locale; absent: the job carries none, so the tenant's or Herald's default applies. */
  locale?: string;
  /** tenant.id; when given, the sample carries no branding of its own, so the tenant's configuration shows. */
  tenant?: string;
  /** Which channel the sample is for, where the kind offers a choice (default: the kind's default channel). */
  channel?: ChannelName;
  /** Clock for expiresAt (one hour ahead) and occurredAt (three minutes ago); default now. */
  now?: number;
}

const SAMPLE_BASE = "https://login.acme.example";

/** A realistic job of a kind, as a producer would send it (the input of `herald send`, before validation). */
export function sampleJob(kind: KindName, opts: SampleOptions = {}): Record<string, unknown> {
  const now = opts.now ?? Date.now();
  const definition = kindDefinition(kind);
  // A kind that can go by SMS although its default is email shows its SMS when asked for that channel.
  const channel = opts.channel && definition.channels.includes(opts.channel) ? opts.channel : (definition.channels[0] ?? "email");
  return {
    recipient: {
      userId: "user-4711",
      email: "ada.lovelace@example.com",
      // 555-0100 to 555-0199 are reserved for fiction in North America: a valid number that reaches nobody.
      phone: "+12015550123",
      firstName: "Ada",
      lastName: "Lovelace",
      displayName: "Ada Lovelace",
      loginName: "ada.lovelace",
      ...(opts.locale ? { locale: opts.locale } : {}),
      timeZone: "Europe/Zurich",
    },
    tenant: opts.tenant ? { id: opts.tenant } : { id: "acme", name: "Acme", branding: { productName: "Acme ID" } },
    // A code's lifetime or a notice's time, whichever the kind's contract has.
    ...(hasField(kind, "expiresAt") ? { expiresAt: new Date(now + 3_600_000).toISOString() } : {}),
    ...(hasField(kind, "occurredAt") ? { occurredAt: new Date(now - 180_000).toISOString() } : {}),
    ...definition.sample({ channel, baseUrl: SAMPLE_BASE }),
  };
}

function hasField(kind: KindName, field: string): boolean {
  const shape = (kindDefinition(kind).schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && Object.hasOwn(shape, field);
}
