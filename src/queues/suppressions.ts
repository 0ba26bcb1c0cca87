import { normalizeRecipient, RecipientHasher } from "../secrets/hash.js";
import { type RedisClient, scanKeys } from "./connection.js";
import type { KeyMaterial } from "../secrets/key.js";
import { scrub } from "../redact.js";

export const DEFAULT_SUPPRESSION_TTL_DAYS = 30;

/** Why a recipient is suppressed. Never the address itself: the key is its keyed hash. */
export interface SuppressionEntry {
  /** `bounce` (a hard bounce the worker saw) or `admin` (added by hand). */
  source: "bounce" | "admin";
  reason: string;
  /** The provider code of the bounce, e.g. smtp-550, twilio-21614. */
  code?: string;
  /** The kind that bounced. */
  kind?: string;
  channel?: string;
  at: string;
}

export interface SuppressionRecord extends SuppressionEntry {
  /** The entry's id: the recipient's keyed hash (what `remove --id` takes). */
  id: string;
  /** Seconds until the entry expires. */
  expiresIn: number;
}

/**
 * The suppression list: recipients (mail addresses, E.164 numbers) nothing is sent to, because they
 * bounced for good or an admin said so. Stored as `<prefix>:suppressed:<HMAC of the address>` with a
 * TTL, so the list holds no address in clear and forgets an entry after `ttlDays` (a mailbox may come
 * back; a number may be given to someone else).
 */
export class Suppressions {
  private readonly hasher: RecipientHasher;
  readonly ttlSeconds: number;

  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
    key: KeyMaterial,
    ttlDays = DEFAULT_SUPPRESSION_TTL_DAYS,
  ) {
    this.hasher = new RecipientHasher(key);
    this.ttlSeconds = Math.round(ttlDays * 86_400);
  }

  /** The entry for this recipient with its id and time left, if any (under any key of a rotation keyring). */
  async check(address: string): Promise<SuppressionRecord | undefined> {
    for (const id of this.ids(address)) {
      const record = await this.byId(id);
      if (record) return record;
    }
    return undefined;
  }

  /**
   * The entry for this recipient, if any: what a worker asks before every send, so one command (GET, or
   * MGET over a keyring's keys, which share the prefix's hash tag and so one Cluster slot) and no TTL.
   */
  async entryOf(address: string): Promise<SuppressionEntry | undefined> {
    const keys = this.ids(address).map((id) => this.key(id));
    const values = keys.length === 1 ? [await this.connection.get(keys[0]!)] : await this.connection.mget(...keys);
    for (const raw of values) {
      const entry = raw ? parseEntry(raw) : undefined;
      if (entry) return entry;
    }
    return undefined;
  }

  async add(address: string, entry: Omit<SuppressionEntry, "at"> & { at?: string }): Promise<string> {
    const id = this.ids(address)[0]!;
    const stored: SuppressionEntry = { ...entry, reason: scrub(entry.reason, [address]).slice(0, 300), at: entry.at ?? new Date().toISOString() };
    await this.connection.set(this.key(id), JSON.stringify(stored), "EX", this.ttlSeconds);
    return id;
  }

  /** The entry id a recipient has (its keyed hash under the newest key): what a later report may suppress by. */
  idOf(address: string): string {
    return this.ids(address)[0]!;
  }

  /** Suppresses by entry id, for a report that names no address (a carrier's status callback). */
  async addId(id: string, entry: Omit<SuppressionEntry, "at"> & { at?: string }): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return;
    const stored: SuppressionEntry = { ...entry, reason: scrub(entry.reason).slice(0, 300), at: entry.at ?? new Date().toISOString() };
    await this.connection.set(this.key(id), JSON.stringify(stored), "EX", this.ttlSeconds);
  }

  /** Removes the recipient's entry (under every key of the keyring); true if there was one. */
  async remove(address: string): Promise<boolean> {
    let removed = 0;
    for (const id of this.ids(address)) removed += await this.connection.del(this.key(id));
    return removed > 0;
  }

  /** By id (as `list` shows it), for an admin who no longer knows the address. */
  async removeId(id: string): Promise<boolean> {
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) && (await this.connection.del(this.key(id))) > 0;
  }

  async byId(id: string): Promise<SuppressionRecord | undefined> {
    const [raw, ttl] = await Promise.all([this.connection.get(this.key(id)), this.connection.ttl(this.key(id))]);
    const entry = raw ? parseEntry(raw) : undefined;
    return entry && { id, ...entry, expiresIn: Math.max(0, ttl) };
  }

  /** Every entry, newest first (a SCAN: fine for many thousands). */
  async list(): Promise<SuppressionRecord[]> {
    const out: SuppressionRecord[] = [];
    const start = this.key("");
    for (const key of await scanKeys(this.connection, start)) {
      const record = await this.byId(key.slice(start.length));
      if (record) out.push(record);
    }
    return out.sort((a, b) => b.at.localeCompare(a.at));
  }

  private ids(address: string): string[] {
    return this.hasher.hashes("address", normalizeRecipient(address));
  }

  private key(id: string): string {
    return `${this.prefix}:suppressed:${id}`;
  }
}

/** A stored entry; anything unreadable counts as none (the list must never stop a send by being corrupt). */
function parseEntry(raw: string): SuppressionEntry | undefined {
  try {
    const value = JSON.parse(raw) as Partial<SuppressionEntry> | null;
    const valid = value !== null && typeof value === "object" && (value.source === "bounce" || value.source === "admin") && typeof value.at === "string";
    return valid ? (value as SuppressionEntry) : undefined;
  } catch {
    return undefined;
  }
}
