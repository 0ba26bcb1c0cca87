import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The Standard Webhooks scheme (https://www.standardwebhooks.com): shared by the HTTP provider,
 * outbound delivery events and the adapters that receive signed hooks. Written here rather than
 * taken from the `standardwebhooks` package so that tests can use that package as an independent check.
 */

export const SECRET_PREFIX = "whsec_";
/** How far a webhook-timestamp may be from now before it is refused (the spec suggests 5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

export class WebhookSecretError extends Error {
  override name = "WebhookSecretError";
}

export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

/** Decodes `whsec_<base64>` (or bare base64, as some senders print it); throws naming what is wrong. */
export function secretKey(secret: string): Buffer {
  const body = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new WebhookSecretError("a webhook secret must be whsec_ followed by base64");
  const key = Buffer.from(body, "base64");
  if (key.length < 16) throw new WebhookSecretError("a webhook secret must hold at least 16 bytes");
  return key;
}

/** A fresh `whsec_` secret of 32 random bytes. */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

function signature(key: Buffer, id: string, timestamp: number | string, body: string): string {
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
}

/**
 * Headers for one delivery. Several secrets (during a rotation) give several space-separated
 * `v1,` signatures, any of which a receiver may accept.
 */
export function signWebhook(secrets: readonly string[], id: string, body: string, now: Date = new Date()): WebhookHeaders {
  if (secrets.length === 0) throw new WebhookSecretError("at least one webhook secret is needed to sign");
  const timestamp = Math.floor(now.getTime() / 1000);
  const signatures = secrets.map((s) => `v1,${signature(secretKey(s), id, timestamp, body)}`);
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures.join(" ") };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a received webhook; throws WebhookVerificationError saying which check failed (missing header,
 * stale timestamp, no matching signature). `body` must be the raw bytes as received.
 */
export function verifyWebhook(
  secrets: readonly string[],
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { toleranceSeconds?: number; now?: Date } = {},
): { id: string; timestamp: Date } {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds)) throw new WebhookVerificationError("webhook-timestamp is not a whole number of seconds");
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - seconds) > tolerance) throw new WebhookVerificationError("webhook-timestamp is too old or too far in the future");
  const offered = signatures
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => Buffer.from(s.slice(3), "base64"));
  for (const secret of secrets) {
    const expected = Buffer.from(signature(secretKey(secret), id, timestamp, body), "base64");
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) return { id, timestamp: new Date(seconds * 1000) };
  }
  throw new WebhookVerificationError("no webhook-signature matches");
}
