import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { keyringOf, type KeyEntry, type KeyMaterial } from "./key.js";

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptError extends Error {
  override readonly name = "DecryptError";
}

/**
 * AES-256-GCM. A key with an id seals to `v2.<kid>.<base64(iv | tag | ciphertext)>`, so a worker holding
 * several keys (rotation) knows which one opens it; a single key without an id keeps the `v1.<…>` format,
 * which workers of earlier releases read.
 */
export function seal(material: KeyMaterial, value: unknown): string {
  const [sealer] = keyringOf(material).keys;
  if (!sealer) throw new DecryptError("cannot seal the job's secrets: the keyring holds no key");
  const { id, key } = sealer;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  const payload = Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  return id ? `v2.${id}.${payload}` : `v1.${payload}`;
}

export function unseal(material: KeyMaterial, sealed: string): unknown {
  const keys = keyringOf(material).keys;
  const [version, first, second, ...more] = sealed.split(".");
  if (version === "v1" && first && second === undefined) {
    // No key id: the GCM tag tells which of the keys (if any) sealed it.
    for (const entry of keys) {
      const opened = tryOpen(entry, first);
      if (opened.ok) return opened.value;
    }
    throw new DecryptError(
      keys.length > 1
        ? "cannot decrypt the job's secrets with any of this worker's keys: the producer used a key that is not in HERALD_ENCRYPTION_KEYS"
        : "cannot decrypt the job's secrets: the producer used another HERALD_ENCRYPTION_KEY than this worker",
    );
  }
  if (version === "v2" && first !== undefined && second && more.length === 0) {
    const [id, payload] = [first, second];
    const entry = keys.find((k) => k.id === id);
    if (!entry)
      throw new DecryptError(
        `cannot decrypt the job's secrets: they were sealed with key id ${id.slice(0, 32)}, which this worker's HERALD_ENCRYPTION_KEYS does not list`,
      );
    const opened = tryOpen(entry, payload);
    if (opened.ok) return opened.value;
    throw new DecryptError(`cannot decrypt the job's secrets: key id ${id} in this worker's HERALD_ENCRYPTION_KEYS is not the key the producer calls ${id}`);
  }
  throw new DecryptError("sealed secrets are not in a known format");
}

function tryOpen(entry: KeyEntry, payload: string): { ok: true; value: unknown } | { ok: false } {
  const raw = Buffer.from(payload, "base64");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new DecryptError("sealed secrets are truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", entry.key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return { ok: true, value: JSON.parse(plain.toString("utf8")) };
  } catch {
    return { ok: false };
  }
}
