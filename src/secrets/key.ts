import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const KEY_BYTES = 32;
export const KEY_FILE = "encryption.key";
/** Key ids travel inside every sealed value (`v2.<kid>.…`): short, and free of the `.` that separates the parts. */
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

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

export interface KeyEntry {
  /** Absent for a single key (HERALD_ENCRYPTION_KEY): values are then sealed in the id-less `v1.` format. */
  id?: string;
  key: Buffer;
}

/** The keys a process may open sealed values with; the first one seals new values. */
export interface Keyring {
  keys: readonly KeyEntry[];
}

/** A raw 32-byte key (one key, no id) or a keyring: what sealing and opening accept. */
export type KeyMaterial = Buffer | Keyring;

export function keyringOf(material: KeyMaterial): Keyring {
  return Buffer.isBuffer(material) ? { keys: [{ key: material }] } : material;
}

/**
 * `kid:base64key,kid:base64key`: the first seals new jobs, every one opens jobs already queued, so a key
 * can be rotated while jobs sealed with the old one are still waiting. Keys themselves never reach a message.
 */
export function parseKeyList(raw: string, source = "HERALD_ENCRYPTION_KEYS"): Keyring {
  const parts = raw
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new KeyError(`${source} is empty; give kid:base64key pairs, comma-separated`);
  const keys = parts.map((part, index) => {
    const colon = part.indexOf(":");
    const id = colon < 0 ? "" : part.slice(0, colon).trim();
    if (!KEY_ID.test(id)) {
      throw new KeyError(
        `${source} entry ${index + 1} must be kid:base64key with a key id of 1-32 letters, digits, _ or - (e.g. 2026-11:$(openssl rand -base64 32))`,
      );
    }
    return { id, key: decodeKey(part.slice(colon + 1), `${source} entry ${index + 1} (${id})`) };
  });
  const ids = keys.map((k) => k.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new KeyError(`${source} names key id ${twice} twice`);
  return { keys };
}

export interface KeySettings {
  HERALD_ENCRYPTION_KEY?: string;
  HERALD_ENCRYPTION_KEYS?: string;
  /** Only with HERALD_DEV=1 may a missing key fall back to the dev key file. */
  dev: boolean;
  dataDir: string;
}

export interface LoadedKey {
  key: KeyMaterial;
  /** Set when the key came from (or was just written to) the dev key file rather than the environment. */
  generatedFile?: string;
}

export const MISSING_KEY_MESSAGE =
  "HERALD_ENCRYPTION_KEY is not set: codes and links cannot be encrypted. Set HERALD_ENCRYPTION_KEY (openssl rand -base64 32), or HERALD_ENCRYPTION_KEYS for rotation, to the same value on producers and workers; or HERALD_DEV=1 on a development machine to use a generated dev key file";

/**
 * HERALD_ENCRYPTION_KEYS (rotation), else HERALD_ENCRYPTION_KEY (one key). Without either: in development
 * a key kept in `<dataDir>/encryption.key`, created on first use, so a developer needs no set-up; outside
 * development an error, because a producer and a worker each inventing a key would never read each other's jobs.
 */
export function loadKey(opts: KeySettings): LoadedKey {
  if (opts.HERALD_ENCRYPTION_KEYS && opts.HERALD_ENCRYPTION_KEY) {
    throw new KeyError("set HERALD_ENCRYPTION_KEYS or HERALD_ENCRYPTION_KEY, not both (list the single key in HERALD_ENCRYPTION_KEYS as kid:key)");
  }
  if (opts.HERALD_ENCRYPTION_KEYS) return { key: parseKeyList(opts.HERALD_ENCRYPTION_KEYS) };
  if (opts.HERALD_ENCRYPTION_KEY) return { key: decodeKey(opts.HERALD_ENCRYPTION_KEY, "HERALD_ENCRYPTION_KEY") };
  if (!opts.dev) throw new KeyError(MISSING_KEY_MESSAGE);
  return loadDevKey(opts.dataDir);
}

function loadDevKey(dataDir: string): LoadedKey {
  const file = join(dataDir, KEY_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
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
