import { z } from "zod";
import { optionalText } from "./env.js";

/**
 * Settings of the identity-server adapters (src/http/adapters): one secret each. An adapter whose secret
 * is unset is not mounted (its routes answer 404); a secret that is set but unusable stops start-up
 * naming the variable, so an adapter never runs with a secret that would accept anything or nothing.
 */

/** Shorter shared secrets are refused: the secret is the adapter's whole protection. */
export const MIN_ADAPTER_SECRET_LENGTH = 16;

const sharedSecret = (name: string) =>
  optionalText.refine((v) => v === undefined || v.length >= MIN_ADAPTER_SECRET_LENGTH, {
    error: `${name} must be at least ${MIN_ADAPTER_SECRET_LENGTH} characters (openssl rand -hex 32)`,
  });

const keyList = (name: string) =>
  optionalText.transform((raw, ctx) => {
    if (raw === undefined) return undefined;
    const keys = raw
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    const short = keys.findIndex((k) => k.length < MIN_ADAPTER_SECRET_LENGTH);
    if (keys.length === 0 || short >= 0) {
      ctx.addIssue({
        code: "custom",
        message: `${name}${keys.length > 1 ? ` entry ${short + 1}` : ""} must be at least ${MIN_ADAPTER_SECRET_LENGTH} characters (the signingKey ZITADEL returned for the provider)`,
      });
      return z.NEVER;
    }
    return keys;
  });

/** `whsec_` + base64 of at least 16 bytes, as the Standard Webhooks spec (and Supabase) print it. */
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/**
 * Supabase shows a hook secret as `v1,whsec_<base64>`; several (a rotation) are separated by `|` as in
 * its GOTRUE_HOOK_*_SECRETS. Returned without the `v1,`, ready for verifyWebhook.
 */
export const supabaseSecrets = optionalText.transform((raw, ctx) => {
  if (raw === undefined) return undefined;
  const secrets = raw
    .split("|")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.startsWith("v1,") ? s.slice(3) : s));
  const bad = secrets.findIndex((s) => !WEBHOOK_SECRET.test(s) || Buffer.from(s.slice(6), "base64").length < 16);
  if (secrets.length === 0 || bad >= 0) {
    // The secret itself is never echoed into an error message.
    ctx.addIssue({
      code: "custom",
      message: `HERALD_SUPABASE_HOOK_SECRET${secrets.length > 1 ? ` entry ${bad + 1}` : ""} must be the secret Supabase shows for the hook, v1,whsec_<base64> (several separated by |)`,
    });
    return z.NEVER;
  }
  return secrets;
});

/** A tenant id for the adapters' jobs (its branding, sender, default locale from HERALD_TENANTS_FILE). */
const tenantId = optionalText.refine((v) => v === undefined || v.length <= 200, { error: "HERALD_ADAPTER_TENANT must be at most 200 characters" });

export const adapterEnvShape = {
  /**
   * The signing keys ZITADEL returns for its HTTP providers (ZITADEL-Signature header), comma-separated:
   * the email provider and the SMS provider each have their own, and a rotation briefly needs two.
   */
  HERALD_ZITADEL_SIGNING_KEY: keyList("HERALD_ZITADEL_SIGNING_KEY"),
  /** Supabase Auth's Send Email / Send SMS hook secret(s), `v1,whsec_…`. */
  HERALD_SUPABASE_HOOK_SECRET: supabaseSecrets,
  /** The key Ory Kratos's courier sends (api_key as `Authorization: Bearer <key>`, or basic_auth password). */
  HERALD_KRATOS_API_KEY: sharedSecret("HERALD_KRATOS_API_KEY"),
  /** The tenant of jobs the adapters enqueue, unless the adapter URL names one (`?tenant=`). */
  HERALD_ADAPTER_TENANT: tenantId,
};
