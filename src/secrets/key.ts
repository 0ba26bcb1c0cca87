import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const KEY_BYTES = 32;
export const KEY_FILE = "encryption.key";

export class KeyError extends Error {
  override readonly name = "KeyError";
}

export function decodeKey(base64: string, source: string): Buffer {
  const key = Buffer.from(base64.trim(), "base64");
  if (key.length !== KEY_BYTES) {
    throw new KeyError(`${source} must be ${KEY_BYTES} bytes, base64-encoded (e.g. \`openssl rand -base64 32\`); it decodes to ${key.length} bytes`);
  }
  return key;
}

export interface LoadedKey {
  key: Buffer;
  /** Set when the key came from (or was just written to) the dev key file rather than the environment. */
  generatedFile?: string;
}

/**
 * The key from HERALD_ENCRYPTION_KEY, else a key kept in `<dataDir>/encryption.key`, created on first use,
 * so a developer needs no set-up. Producers and workers on one machine then share it by sharing the folder.
 */
export function loadKey(opts: { base64?: string; dataDir: string }): LoadedKey {
  if (opts.base64) return { key: decodeKey(opts.base64, "HERALD_ENCRYPTION_KEY") };
  const file = join(opts.dataDir, KEY_FILE);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // Written aside and linked into place: link fails if another process won the race, and nobody reads a half-written key.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, randomBytes(KEY_BYTES).toString("base64") + "\n", { mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(draft);
  }
  return { key: decodeKey(readFileSync(file, "utf8"), file), generatedFile: file };
}
