import { createHash } from "node:crypto";
import type { RedisClient } from "./connection.js";
import { KIND_NAMES, ValidationError, type ChannelName, type KindName } from "../contracts/index.js";
import { GLOBAL_ONLY_LIMITS, type LimitPolicy, type TenantLimitPolicy } from "../config/defaults.js";
import { RateLimitedError, type LimitName } from "../errors/index.js";
import { normalizeRecipient, RecipientHasher } from "../secrets/hash.js";
import type { KeyMaterial } from "../secrets/key.js";

export { DEFAULT_LIMITS, type LimitPolicy, type TenantLimitPolicy } from "../config/defaults.js";

const HOUR_MS = 3_600_000;

/**
 * The limits of one enqueue or of a whole bulk, checked and counted in one step (a Lua script runs alone on
 * Redis, so two API processes can never both take the last free slot). Every item is checked first, counting
 * the batch's earlier items as if they were already counted; only if all pass is anything written, so a
 * refused item leaves nothing counted. Keys (all under the prefix's hash tag, so one Redis Cluster slot;
 * every one with a TTL):
 *   KEYS[1]         the open breakers (zset: country by the ms it closes; TTL the longest breaker time)
 * and per item i (0-based), KEYS[2 + 6i …]:
 *   +0 seen marker of this job (idempotency key or job id, with the address): a repeat passes uncounted
 *   +1 cooldown of kind + address        (string, PX cooldown)
 *   +2 sends to the address, last hour   (zset of job ids by time)
 *   +3 sends to the userId, last hour    (zset)
 *   +4 SMS to the country, last hour     (zset)
 *   +5 the country's breaker             (string, PX breaker time)
 * ARGV: now ms, window ms, marker TTL ms, country cap, breaker ms; then per item, ARGV[6 + 5i …]:
 *   cooldown ms, address cap, user cap, country ('' for none), member (the job id).
 * Returns {1} when all are accepted, else {0, limit, wait ms, 1 if this call opened the breaker, item index}.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local markerTtl = tonumber(ARGV[3])
local countryCap = tonumber(ARGV[4])
local breakerMs = tonumber(ARGV[5])
local added, cooled, seen, accepted = {}, {}, {}, {}
local function full(key, cap)
  if cap <= 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) + (added[key] or 0) < cap then return 0 end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] == nil then return window end
  return math.max(1, tonumber(oldest[2]) + window - now)
end
for i = 0, (#KEYS - 1) / 6 - 1 do
  local k = 2 + i * 6
  local a = 6 + i * 5
  local cooldown = tonumber(ARGV[a])
  local country = ARGV[a + 3]
  local caps = {tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), 0}
  if country ~= '' then caps[3] = countryCap end
  if not seen[KEYS[k]] and redis.call('EXISTS', KEYS[k]) == 0 then
    if country ~= '' and countryCap > 0 then
      local ttl = redis.call('PTTL', KEYS[k + 5])
      if ttl > 0 then return {0, 'sms-country', ttl, 0, i} end
    end
    if cooldown > 0 then
      if cooled[KEYS[k + 1]] then return {0, 'cooldown', cooldown, 0, i} end
      local ttl = redis.call('PTTL', KEYS[k + 1])
      if ttl > 0 then return {0, 'cooldown', ttl, 0, i} end
    end
    local wait = full(KEYS[k + 2], caps[1])
    if wait > 0 then return {0, 'address', wait, 0, i} end
    wait = full(KEYS[k + 3], caps[2])
    if wait > 0 then return {0, 'user', wait, 0, i} end
    if full(KEYS[k + 4], caps[3]) > 0 then
      redis.call('SET', KEYS[k + 5], now, 'PX', breakerMs)
      redis.call('ZADD', KEYS[1], now + breakerMs, country)
      if redis.call('PTTL', KEYS[1]) < breakerMs then redis.call('PEXPIRE', KEYS[1], breakerMs) end
      return {0, 'sms-country', breakerMs, 1, i}
    end
    seen[KEYS[k]] = true
    if cooldown > 0 then cooled[KEYS[k + 1]] = true end
    for j = 1, 3 do
      if caps[j] > 0 then added[KEYS[k + j + 1]] = (added[KEYS[k + j + 1]] or 0) + 1 end
    end
    accepted[#accepted + 1] = {k, cooldown, caps, ARGV[a + 4]}
  end
end
for _, t in ipairs(accepted) do
  local k, cooldown, caps, member = t[1], t[2], t[3], t[4]
  if cooldown > 0 then redis.call('SET', KEYS[k + 1], now, 'PX', cooldown) end
  for j = 1, 3 do
    if caps[j] > 0 then
      redis.call('ZADD', KEYS[k + j + 1], now, member)
      redis.call('PEXPIRE', KEYS[k + j + 1], window)
    end
  end
  redis.call('SET', KEYS[k], 1, 'PX', markerTtl)
end
return {1}
`;
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");

export interface LimitSettings {
  /** The defaults (from the environment: limitPolicyOf). */
  policy: LimitPolicy;
  /**
   * Per tenant id (the job's tenant.id): any subset of the per-recipient limits, from the tenants file's
   * `limits:`. The SMS country cap and breaker are one protection for all tenants: not allowed here.
   */
  tenants?: Readonly<Record<string, Partial<TenantLimitPolicy>>>;
  /** ISO 3166 codes SMS may go to; undefined: every country. */
  smsAllowedCountries?: readonly string[];
}

/** What the check needs of a job: already validated by its contract. */
export interface LimitedJob {
  kind: KindName;
  channel: ChannelName;
  jobId: string;
  /** For an SMS: its number's country, if checkNumber already ran (it is not run again). */
  country?: string;
  job: { recipient: { userId: string; email?: string; phone?: string }; tenant?: { id?: string }; idempotencyKey?: string };
}

export interface CounterView {
  /** Sends counted in the rolling hour. */
  lastHour: number;
  limit: number;
  /** Seconds until the next send passes the window cap (0: it would pass now). */
  retryAfter: number;
}

export interface LimitsView {
  address?: CounterView & { cooldowns: Partial<Record<KindName, number>> };
  user?: CounterView;
  country?: CounterView & { code: string; breakerOpenFor: number };
}

export interface LimitSubject {
  address?: string;
  userId?: string;
  country?: string;
}

type PhoneMax = typeof import("libphonenumber-js/max");
let phoneMax: Promise<PhoneMax> | undefined;

/**
 * Resend limits and the SMS-pumping guard, enforced at enqueue by the SDK (and so by the CLI and the
 * API). Recipients appear in Redis only as keyed hashes (RecipientHasher).
 */
export class Limits {
  private readonly hasher: RecipientHasher;

  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
    key: KeyMaterial,
    readonly settings: LimitSettings,
  ) {
    this.hasher = new RecipientHasher(key);
    for (const [id, own] of Object.entries(settings.tenants ?? {})) {
      for (const field of GLOBAL_ONLY_LIMITS) {
        if (own && field in own) {
          throw new Error(
            `limits.tenants.${id}.${field}: the SMS country cap and breaker protect all tenants at once and cannot be set per tenant; set HERALD_SMS_COUNTRY_PER_HOUR / HERALD_SMS_COUNTRY_BREAKER_S (or limits.policy) instead`,
          );
        }
      }
    }
  }

  /** A tenant's policy: its own per-recipient limits over the defaults; the SMS country cap and breaker are always the defaults'. */
  policyFor(tenantId: string | undefined): LimitPolicy {
    const own = tenantId === undefined ? undefined : this.settings.tenants?.[tenantId];
    const { policy } = this.settings;
    return {
      cooldownSeconds: own?.cooldownSeconds ?? policy.cooldownSeconds,
      addressPerHour: own?.addressPerHour ?? policy.addressPerHour,
      userPerHour: own?.userPerHour ?? policy.userPerHour,
      smsCountryPerHour: policy.smsCountryPerHour,
      smsCountryBreakerSeconds: policy.smsCountryBreakerSeconds,
    };
  }

  /**
   * Refuses an SMS to a country not allowed or to a premium-rate, shared-cost or invalid number
   * (ValidationError naming recipient.phone), then checks and counts every limit in one step
   * (RateLimitedError). A repeat of an enqueue already counted (same idempotency key, or same job id,
   * to the same address) passes.
   */
  async check(item: LimitedJob, now = Date.now()): Promise<void> {
    await this.checkAll([item], now);
  }

  /**
   * check() for a whole bulk in one step: every item is checked before any is counted, and a refused item
   * (RateLimitedError; its message names `items.N` in a bulk of more than one) leaves nothing counted.
   */
  async checkAll(items: readonly LimitedJob[], now = Date.now()): Promise<void> {
    if (items.length === 0) return;
    const { policy: global } = this.settings;
    const keys = [this.key("breakers")];
    const args: (string | number)[] = [now, HOUR_MS, 24 * HOUR_MS, global.smsCountryPerHour, global.smsCountryBreakerSeconds * 1000];
    const countries: (string | undefined)[] = [];
    for (const item of items) {
      const { kind, channel, job } = item;
      const country = channel === "sms" ? (item.country ?? (await this.checkNumber(kind, job.recipient.phone!))) : undefined;
      countries.push(country);
      const policy = this.policyFor(job.tenant?.id);
      const address = channel === "email" ? job.recipient.email! : job.recipient.phone!;
      const addressHash = this.hasher.hash("address", normalizeRecipient(address));
      // With the address: BullMQ deduplicates per shard (the recipient's), so the same key or id to another
      // recipient is another job and must be counted; a repeat to the same recipient passes uncounted.
      const marker = job.idempotencyKey
        ? `idem:${kind}:${createHash("sha256").update(job.idempotencyKey).digest("base64url").slice(0, 32)}:${addressHash}`
        : `job:${item.jobId}:${addressHash}`;
      keys.push(
        this.key("seen", marker),
        this.key("cool", kind, addressHash),
        this.key("address", addressHash),
        this.key("user", this.hasher.hash("user", job.recipient.userId)),
        this.key("country", country ?? "-"),
        this.key("breaker", country ?? "-"),
      );
      args.push(policy.cooldownSeconds * 1000, policy.addressPerHour, policy.userPerHour, country ?? "", item.jobId);
    }
    const [ok, limit, waitMs, opened, index] = (await this.run(keys, args)) as [number, LimitName?, number?, number?, number?];
    if (ok === 1) return;
    const at = index ?? 0;
    const item = items[at];
    if (!item || !limit) throw new Error(`Herald: the limits script refused item ${at} of ${items.length} without a reason`);
    const country = countries[at];
    const retryAfter = Math.max(1, Math.ceil((waitMs ?? 1000) / 1000));
    const reason = describe(limit, item.kind, retryAfter, this.policyFor(item.job.tenant?.id), country);
    throw new RateLimitedError(limit, retryAfter, items.length > 1 ? `items.${at}: ${reason}` : reason, opened === 1, country);
  }

  /**
   * The worker's second look at an SMS already queued, counting nothing: the number guard (with the
   * allowlist as the worker has it now) and the country's breaker. So SMS queued before an allowlist was
   * narrowed, or during a burst that then opened the breaker, are not sent. Returns why not, or undefined.
   */
  async refusalOfQueued(kind: KindName, phone: string): Promise<string | undefined> {
    let country: string;
    try {
      country = await this.checkNumber(kind, phone);
    } catch (error) {
      if (error instanceof ValidationError) return `SMS-pumping guard: the number ${error.issues[0]?.message ?? "is refused"}`;
      throw error;
    }
    const ttl = await this.connection.pttl(this.key("breaker", country));
    return ttl > 0 ? `SMS-pumping guard: SMS to ${country} are paused (the country's breaker is open for ${Math.ceil(ttl / 1000)} s more)` : undefined;
  }

  /** The counters of an address, a user id and/or a country (what `herald limits show` prints). */
  async show(subject: LimitSubject, now = Date.now()): Promise<LimitsView> {
    const policy = this.settings.policy;
    const view: LimitsView = {};
    if (subject.address) {
      const hash = this.hasher.hash("address", normalizeRecipient(subject.address));
      const cooldowns: Partial<Record<KindName, number>> = {};
      for (const kind of KIND_NAMES) {
        const ttl = await this.connection.pttl(this.key("cool", kind, hash));
        if (ttl > 0) cooldowns[kind] = Math.ceil(ttl / 1000);
      }
      view.address = { ...(await this.counter(this.key("address", hash), policy.addressPerHour, now)), cooldowns };
    }
    if (subject.userId) view.user = await this.counter(this.key("user", this.hasher.hash("user", subject.userId)), policy.userPerHour, now);
    if (subject.country) {
      const code = subject.country.toUpperCase();
      const ttl = await this.connection.pttl(this.key("breaker", code));
      view.country = {
        code,
        ...(await this.counter(this.key("country", code), policy.smsCountryPerHour, now)),
        breakerOpenFor: ttl > 0 ? Math.ceil(ttl / 1000) : 0,
      };
    }
    return view;
  }

  /** Forgets the counters, cooldowns and (for a country) the breaker; returns how many keys were removed. */
  async reset(subject: LimitSubject): Promise<number> {
    const keys: string[] = [];
    if (subject.address) {
      for (const hash of this.hasher.hashes("address", normalizeRecipient(subject.address))) {
        keys.push(this.key("address", hash), ...KIND_NAMES.map((kind) => this.key("cool", kind, hash)));
      }
    }
    if (subject.userId) keys.push(...this.hasher.hashes("user", subject.userId).map((hash) => this.key("user", hash)));
    if (subject.country) keys.push(this.key("country", subject.country.toUpperCase()), this.key("breaker", subject.country.toUpperCase()));
    let removed = 0;
    // One key per call: on Redis Cluster a multi-key DEL needs one slot, which the hash tag gives, but stay simple.
    for (const key of keys) removed += await this.connection.del(key);
    if (subject.country) await this.connection.zrem(this.key("breakers"), subject.country.toUpperCase());
    return removed;
  }

  /**
   * Countries whose breaker is open now, with the seconds it stays open: read from the zset the limits
   * script keeps (country by the ms its breaker closes), so a metrics scrape costs two commands on one key.
   */
  async openBreakers(now = Date.now()): Promise<{ country: string; retryAfter: number }[]> {
    const key = this.key("breakers");
    await this.connection.zremrangebyscore(key, "-inf", now);
    const flat = await this.connection.zrangebyscore(key, `(${now}`, "+inf", "WITHSCORES");
    const out: { country: string; retryAfter: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const country = flat[i];
      const until = Number(flat[i + 1]);
      if (country !== undefined) out.push({ country, retryAfter: Math.max(1, Math.ceil((until - now) / 1000)) });
    }
    return out.sort((a, b) => a.country.localeCompare(b.country));
  }

  /** The SMS guard's number checks (country allowed; not premium-rate, shared-cost or invalid); returns the number's country. */
  async checkNumber(kind: KindName, phone: string): Promise<string> {
    phoneMax ??= import("libphonenumber-js/max");
    const parsed = (await phoneMax).parsePhoneNumberFromString(phone);
    const refuse = (message: string): never => {
      throw new ValidationError(kind, [{ field: "recipient.phone", message }]);
    };
    if (!parsed?.isValid()) return refuse("is not a number in use (full numbering plan check); not sent");
    const country = parsed.country ?? `+${parsed.countryCallingCode}`;
    const allowed = this.settings.smsAllowedCountries;
    if (allowed && !allowed.includes(country)) {
      refuse(`is in ${country}, which HERALD_SMS_ALLOWED_COUNTRIES does not list (${allowed.join(", ")}); not sent`);
    }
    const type = parsed.getType();
    if (type === "PREMIUM_RATE" || type === "SHARED_COST") {
      refuse(`is a ${type === "PREMIUM_RATE" ? "premium-rate" : "shared-cost"} number: SMS to it are refused (SMS-pumping guard)`);
    }
    return country;
  }

  private async counter(key: string, limit: number, now: number): Promise<CounterView> {
    await this.connection.zremrangebyscore(key, "-inf", now - HOUR_MS);
    const [count, oldest] = await Promise.all([this.connection.zcard(key), this.connection.zrange(key, "0", "0", "WITHSCORES")]);
    const full = limit > 0 && count >= limit && oldest[1] !== undefined;
    return { lastHour: count, limit, retryAfter: full ? Math.max(1, Math.ceil((Number(oldest[1]) + HOUR_MS - now) / 1000)) : 0 };
  }

  private async run(keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.connection.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!/NOSCRIPT/.test((error as Error).message)) throw error;
      return this.connection.eval(SCRIPT, keys.length, ...keys, ...args);
    }
  }

  private key(...parts: string[]): string {
    return `${this.prefix}:limit:${parts.join(":")}`;
  }
}

function describe(limit: LimitName, kind: KindName, retryAfter: number, policy: LimitPolicy, country?: string): string {
  switch (limit) {
    case "cooldown":
      return `a ${kind} was sent to this address less than ${policy.cooldownSeconds} s ago; try again in ${retryAfter} s`;
    case "address":
      return `this address already got ${policy.addressPerHour} notifications in the last hour; try again in ${retryAfter} s`;
    case "user":
      return `this userId already got ${policy.userPerHour} notifications in the last hour; try again in ${retryAfter} s`;
    case "sms-country":
      return `SMS to ${country} are paused: more than ${policy.smsCountryPerHour} in an hour opened the country's breaker (SMS-pumping guard); try again in ${retryAfter} s`;
  }
}
