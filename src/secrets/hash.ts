import { createHmac, hkdfSync } from "node:crypto";
import { keyringOf, type KeyMaterial } from "./key.js";

/** HKDF's `info`: a key derived for one purpose is useless for any other (sealing uses the key itself). */
const INFO = "herald recipient hash v1";
/** HKDF's `info` of the idempotency keys the identity-server adapters derive from a message's content. */
export const IDEMPOTENCY_INFO = "herald idempotency key v1";

/**
 * HMAC-SHA256 under a key derived from the encryption key by HKDF-SHA256 with `info` (one per purpose), so
 * without the encryption key a stored hash cannot be tested against guessed inputs. `hashes` gives one per
 * key of a rotation keyring, the current key's first.
 */
export class KeyedHasher {
  private readonly keys: Buffer[];

  constructor(material: KeyMaterial, info: string) {
    this.keys = keyringOf(material).keys.map(({ key }) => Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), info, 32)));
  }

  /** Under the current key: what new entries are written with. `namespace` keeps equal values of different meaning apart. */
  hash(namespace: string, value: string): string {
    return this.hashes(namespace, value)[0]!;
  }

  hashes(namespace: string, value: string): string[] {
    return this.keys.map((key) => createHmac("sha256", key).update(`${namespace}:${value}`).digest("base64url").slice(0, 32));
  }
}

/**
 * Keyed hashes of recipients (addresses, numbers, user ids) for Redis keys that must not hold them in
 * clear: the limit counters and the suppression list. HMAC-SHA256 with a key derived from the encryption
 * key by HKDF-SHA256, so without the key a stored hash cannot be tested against a guessed address.
 * `hashes` gives one per key of a rotation keyring, the current key's first: entries written under an
 * older key are still found while it is listed. Addresses should be given through normalizeRecipient.
 */
export class RecipientHasher extends KeyedHasher {
  constructor(material: KeyMaterial) {
    super(material, INFO);
  }
}

/** Addresses compare case-insensitively (as every mailbox provider does in practice); numbers as E.164 without spaces. */
export function normalizeRecipient(value: string): string {
  const trimmed = value.trim();
  return trimmed.includes("@") ? trimmed.toLowerCase() : trimmed.replace(/[\s().-]/g, "");
}
