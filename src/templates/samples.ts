import type { ChannelName, KindName } from "../contracts/index.js";

// Realistic sample jobs for previews (CLI and the HTTP gallery): what a producer would send.

export interface SampleOptions {
  /** recipient.locale; absent: the job carries none, so the tenant's or Herald's default applies. */
  locale?: string;
  /** tenant.id; when given, the sample carries no branding of its own, so the tenant's configuration shows. */
  tenant?: string;
  /** password-reset only: which channel the sample is for (default email). */
  channel?: ChannelName;
  /** Clock for expiresAt (one hour ahead); default now. */
  now?: number;
}

const SAMPLE_CODES: Record<KindName, string> = {
  "resend-initialization": "KXM4TQ",
  "email-verification": "482915",
  "phone-verification": "739204",
  "password-reset": "581634",
  "passkey-link": "7Q2M9X",
};

const SAMPLE_BASE = "https://login.acme.example";

/** A realistic job of a kind, as a producer would send it (the input of `herald send`, before validation). */
export function sampleJob(kind: KindName, opts: SampleOptions = {}): Record<string, unknown> {
  const now = opts.now ?? Date.now();
  const code = SAMPLE_CODES[kind];
  const job: Record<string, unknown> = {
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
    },
    tenant: opts.tenant ? { id: opts.tenant } : { id: "acme", name: "Acme", branding: { productName: "Acme ID" } },
    code,
    expiresAt: new Date(now + 3_600_000).toISOString(),
  };
  switch (kind) {
    case "resend-initialization":
      job.url = `${SAMPLE_BASE}/ui/init?userID=user-4711&code=${code}`;
      break;
    case "email-verification":
      job.url = `${SAMPLE_BASE}/ui/verify-email?userID=user-4711&code=${code}`;
      break;
    case "password-reset":
      if (opts.channel === "sms") job.channel = "sms";
      else job.url = `${SAMPLE_BASE}/ui/password/reset?userID=user-4711&code=${code}`;
      break;
    case "passkey-link":
      job.codeId = "pk-2f6c1e9a";
      job.url = `${SAMPLE_BASE}/ui/passkey/register?userID=user-4711&codeID=pk-2f6c1e9a&code=${code}`;
      break;
    case "phone-verification":
      break;
  }
  return job;
}
