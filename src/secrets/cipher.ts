import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptError extends Error {
  override readonly name = "DecryptError";
}

/** AES-256-GCM; the output is `v1.<base64(iv | tag | ciphertext)>`, so a key or format change can be told apart later. */
export function seal(key: Buffer, value: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

export function unseal(key: Buffer, sealed: string): unknown {
  const [version, payload] = sealed.split(".", 2);
  if (version !== VERSION || !payload) throw new DecryptError("sealed secrets are not in a known format");
  const raw = Buffer.from(payload, "base64");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new DecryptError("sealed secrets are truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString("utf8"));
  } catch {
    throw new DecryptError(
      "cannot decrypt the job's secrets: the producer used another HERALD_ENCRYPTION_KEY than this worker",
    );
  }
}
