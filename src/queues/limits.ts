import { createHash } from "node:crypto";
import { type RedisClient, scanKeys } from "./connection.js";
import { KIND_NAMES, ValidationError, type ChannelName, type KindName } from "../contracts/index.js";
import type { LimitPolicy } from "../config/defaults.js";
import { RateLimitedError, type LimitName } from "../errors/index.js";
import { normalizeRecipient, RecipientHasher } from "../secrets/hash.js";
import type { KeyMaterial } from "../secrets/key.js";

export { DEFAULT_LIMITS, type LimitPolicy } from "../config/defaults.js";

const HOUR_MS = 3_600_000;

/**
 * One enqueue's limits, checked and counted in one step (a Lua script runs alone on Redis, so two API
 * processes can never both take the last free slot). Keys (all under the prefix's hash tag, so one
 * Redis Cluster slot; every one with a TTL):
 *   KEYS[1] seen marker of this job (idempotency key or job id): a repeat passes uncounted
 *   KEYS[2] cooldown of kind + address        (string, PX cooldown)
 *   KEYS[3] sends to the address, last hour   (zset of job ids by time)
 *   KEYS[4] sends to the userId, last hour    (zset)
 *   KEYS[5] SMS to the country, last hour     (zset)
 *   KEYS[6] the country's breaker             (string, PX breaker time)
 * ARGV: now ms, cooldown ms, address cap, user cap, country cap, breaker ms, window ms, member, marker TTL ms.
 * Returns {1} when accepted, else {0, limit, wait ms, 1 if this call opened the breaker}.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
local window = tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
local countryCap = tonumber(ARGV[5])
if countryCap > 0 then
  local ttl = redis.call('PTTL', KEYS[6])
  if ttl > 0 then return {0, 'sms-country', ttl, 0} end
end
if cooldown > 0 then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then return {0, 'cooldown', ttl, 0} end
end
local function full(key, cap)
  if cap <= 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < cap then return 0 end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
local wait = full(KEYS[3], tonumber(ARGV[3]))
if wait > 0 then return {0, 'address', wait, 0} end
wait = full(KEYS[4], tonumber(ARGV[4]))
if wait > 0 then return {0, 'user', wait, 0} end
if full(KEYS[5], countryCap) > 0 then
  local breaker = tonumber(ARGV[6])
  redis.call('SET', KEYS[6], now, 'PX', breaker)
  return {0, 'sms-country', breaker, 1}
end
if cooldown > 0 then redis.call('SET', KEYS[2], now, 'PX', cooldown) end
local caps = {ARGV[3], ARGV[4], ARGV[5]}
for i = 1, 3 do
  if tonumber(caps[i]) > 0 then
    redis.call('ZADD', KEYS[i + 2], now, ARGV[8])
    redis.call('PEXPIRE', KEYS[i + 2], window)
  end
end
redis.call('SET', KEYS[1], 1, 'PX', tonumber(ARGV[9]))
return {1}
`;
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");

export interface LimitSettings {
  /** The defaults (from the environment: limitPolicyOf). */
  policy: LimitPolicy;
  /** Per tenant id (the job's tenant.id): any subset of the policy, from the tenants file's `limits:`. */
  tenants?: Readonly<Record<string, Partial<LimitPolicy>>>;
  /** ISO 3166 codes SMS may go to; undefined: every country. */
  smsAllowedCountries?: readonly string[];
}

/** What the check needs of a job: already validated by its contract. */
export interface LimitedJob {
  kind: KindName;
  channel: ChannelName;
  jobId: string;
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
  }

  policyFor(tenantId: string | undefined): LimitPolicy {
    const own = tenantId === undefined ? undefined : this.settings.tenants?.[tenantId];
    return { ...this.settings.policy, ...own };
  }

  /**
   * Refuses an SMS to a country not allowed or to a premium-rate, shared-cost or invalid number
   * (ValidationError naming recipient.phone), then checks and counts every limit in one step
   * (RateLimitedError). A repeat of an enqueue already counted (same idempotency key, or same job id) passes.
   */
  async check(item: LimitedJob, now = Date.now()): Promise<void> {
    const { kind, channel, job } = item;
    const country = channel === "sms" ? await this.checkNumber(kind, job.recipient.phone!) : undefined;
    const policy = this.policyFor(job.tenant?.id);
    const address = channel === "email" ? job.recipient.email! : job.recipient.phone!;
    const addressHash = this.hasher.hash("address", normalizeRecipient(address));
    const marker = job.idempotencyKey
      ? `idem:${kind}:${createHash("sha256").update(job.idempotencyKey).digest("base64url").slice(0, 32)}`
      : `job:${item.jobId}`;
    const keys = [
      this.key("seen", marker),
      this.key("cool", kind, addressHash),
      this.key("address", addressHash),
      this.key("user", this.hasher.hash("user", job.recipient.userId)),
      this.key("country", country ?? "-"),
      this.key("breaker", country ?? "-"),
    ];
    const args = [
      now,
      policy.cooldownSeconds * 1000,
      policy.addressPerHour,
      policy.userPerHour,
      country ? policy.smsCountryPerHour : 0,
      policy.smsCountryBreakerSeconds * 1000,
      HOUR_MS,
      item.jobId,
      24 * HOUR_MS,
    ];
    const [ok, limit, waitMs, opened] = (await this.run(keys, args)) as [number, LimitName?, number?, number?];
    if (ok === 1) return;
    const retryAfter = Math.max(1, Math.ceil((waitMs ?? 1000) / 1000));
    throw new RateLimitedError(limit!, retryAfter, describe(limit!, kind, retryAfter, policy, country), opened === 1, country);
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
    return removed;
  }

  /** Countries whose breaker is open now, with the seconds it stays open. */
  async openBreakers(): Promise<{ country: string; retryAfter: number }[]> {
    const out: { country: string; retryAfter: number }[] = [];
    const prefix = this.key("breaker", "");
    for (const key of await scanKeys(this.connection, prefix)) {
      const ttl = await this.connection.pttl(key);
      if (ttl > 0) out.push({ country: key.slice(prefix.length), retryAfter: Math.ceil(ttl / 1000) });
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
