import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiScope, ApiToken } from "../config/http.js";

/** What secretMatches compares against: computed once per configured secret, at start. */
export const secretDigest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/**
 * The one comparison of a presented secret with an expected one: constant time over SHA-256 digests,
 * so neither the secret's length nor where it differs leaks.
 */
export function secretMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(secretDigest(presented), expectedDigest);
}

const ADMIN_USER = secretDigest("admin");

/** What a scope may do: admin may do everything enqueue may. */
export function allows(granted: ApiScope, needed: ApiScope): boolean {
  return granted === "admin" || granted === needed;
}

/**
 * Checks presented credentials against the configured tokens. Every token is compared (so which one
 * matched does not leak), each with secretMatches.
 */
export class ApiAuth {
  private readonly tokens: { scope: ApiScope; digest: Buffer }[];

  /** `open`: no tokens configured and HERALD_DEV=1; every request is treated as admin. */
  constructor(
    tokens: readonly ApiToken[],
    readonly open = false,
  ) {
    this.tokens = tokens.map((t) => ({ scope: t.scope, digest: secretDigest(t.token) }));
  }

  get configured(): boolean {
    return this.tokens.length > 0;
  }

  /** The strongest scope a token grants, or undefined if it matches none. */
  scopeOf(token: string | undefined): ApiScope | undefined {
    if (this.open) return "admin";
    if (!token) return undefined;
    let scope: ApiScope | undefined;
    for (const candidate of this.tokens) {
      if (secretMatches(token, candidate.digest) && scope !== "admin") scope = candidate.scope;
    }
    return scope;
  }

  /** `Authorization: Bearer <token>` → scope. */
  scopeOfBearer(header: string | undefined): ApiScope | undefined {
    if (this.open) return "admin";
    const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header ?? "");
    return match ? this.scopeOf(match[1]) : undefined;
  }

  /** `Authorization: Basic base64(admin:<admin token>)` → true. */
  isAdminBasic(header: string | undefined): boolean {
    if (this.open) return true;
    const encoded = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header ?? "")?.[1];
    if (!encoded) return false;
    const decoded = Buffer.from(encoded, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const userOk = secretMatches(decoded.slice(0, colon), ADMIN_USER);
    const scope = this.scopeOf(decoded.slice(colon + 1));
    return userOk && scope === "admin";
  }
}
