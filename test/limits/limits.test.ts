import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Herald, RateLimitedError, ValidationError } from "../../src/index.js";
import { shardPrefixes } from "../../src/queues/names.js";
import { ROOT, runCli } from "../support/cli.js";
import { asAdmin, asEnqueue, startApiHarness } from "../support/harness.js";
import { deleteKeys, dumpValues, REDIS_URL, testEnv, uniquePrefix } from "../support/herald.js";

const TSX = resolve(ROOT, "node_modules/tsx/dist/loader.mjs");
const verification = (email: string, userId = "u-1") => ({
  recipient: { userId, email },
  code: "123456",
  url: "https://login.example.com/verify",
});
const sms = (phone: string, userId = "u-1") => ({ recipient: { userId, phone }, code: "123456" });

/** The error an enqueue rejected with (the test fails if it was accepted). */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("the enqueue was accepted");
}

describe("resend limits at enqueue", () => {
  const redis = new Redis(REDIS_URL);
  const key = randomBytes(32).toString("base64");
  const prefixes: string[] = [];
  const heralds: Herald[] = [];
  const producer = (limits: ConstructorParameters<typeof Herald>[0] extends infer O ? (O extends { limits?: infer L } ? L : never) : never) => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key, limits });
    heralds.push(herald);
    return herald;
  };

  afterAll(async () => {
    await Promise.all(heralds.map((h) => h.close()));
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it("50 parallel enqueues to one address from two producer processes: exactly the cap is queued, the rest refused with the right retryAfter", async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const goAt = Date.now() + 4000;
    const run = () =>
      new Promise<{ ok: boolean; limit?: string; retryAfter?: number; error?: string }[]>((done, fail) => {
        const child = spawn(process.execPath, ["--import", TSX, resolve(import.meta.dirname, "burst-producer.ts")], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? "", REDIS_URL, HERALD_PREFIX: prefix, HERALD_ENCRYPTION_KEY: key, CAP: "5", BURST: "25", GO_AT: String(goAt) },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (c) => (out += c));
        child.stderr.on("data", (c) => (err += c));
        child.on("close", (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`producer exited ${code}: ${err}`))));
      });
    const results = (await Promise.all([run(), run()])).flat();
    expect(results).toHaveLength(50);
    const accepted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(accepted).toHaveLength(5);
    expect(refused.every((r) => r.limit === "address")).toBe(true);
    for (const r of refused) {
      // The oldest of the five counted sends leaves the rolling hour in just under 3600 s.
      expect(r.retryAfter).toBeGreaterThan(3590);
      expect(r.retryAfter).toBeLessThanOrEqual(3600);
    }
    const queue = new Queue("email", { connection: redis, prefix });
    expect(await queue.getWaitingCount()).toBe(5);
    await queue.close();
  }, 60_000);

  it("a cooldown per kind and address; other kinds and addresses pass; a repeat with the same idempotency key is not counted", async () => {
    const herald = producer({ policy: { cooldownSeconds: 30, addressPerHour: 3, userPerHour: 100 } });
    const first = await herald.emailVerification({ ...verification("ada@example.com"), idempotencyKey: "k-1" });
    // The same key again (the first job answers) counts neither for the cooldown nor for the cap.
    const again = await herald.emailVerification({ ...verification("ada@example.com"), idempotencyKey: "k-1" });
    expect(again).toMatchObject({ id: first.id, deduplicated: true });
    const cooled = await refusal(herald.emailVerification(verification("ada@example.com")));
    expect(cooled).toBeInstanceOf(RateLimitedError);
    expect(cooled).toMatchObject({ limit: "cooldown" });
    expect((cooled as RateLimitedError).retryAfter).toBeGreaterThan(25);
    expect((cooled as RateLimitedError).retryAfter).toBeLessThanOrEqual(30);
    // Another kind to the same address, and the same kind to another address, pass.
    await herald.passwordReset({ ...verification("ada@example.com"), url: "https://login.example.com/reset" });
    await herald.emailVerification(verification("bob@example.com"));
    await herald.otpEmail({ recipient: { userId: "u-1", email: "ada@example.com" }, code: "123456" });
    // The cap (3) is reached with three distinct sends to ada: the repeat was not one of them.
    const capped = await refusal(herald.inviteUser({ ...verification("ada@example.com"), inviter: { displayName: "Eve" } } as never));
    expect(capped).toMatchObject({ name: "RateLimitedError", limit: "address" });
  });

  it("a per-userId cap across addresses; a tenant's own limits from the settings override the defaults", async () => {
    const herald = producer({ policy: { cooldownSeconds: 0, addressPerHour: 100, userPerHour: 2 }, tenants: { strict: { addressPerHour: 1 } } });
    await herald.emailVerification(verification("a1@example.com", "u-7"));
    await herald.emailVerification(verification("a2@example.com", "u-7"));
    expect(await refusal(herald.emailVerification(verification("a3@example.com", "u-7")))).toMatchObject({ limit: "user" });
    await herald.emailVerification({ ...verification("t@example.com", "u-8"), tenant: { id: "strict" } });
    expect(await refusal(herald.emailVerification({ ...verification("t@example.com", "u-9"), tenant: { id: "strict" } }))).toMatchObject({
      limit: "address",
    });
    // Without the tenant, the default cap (100) applies to the same address.
    await herald.emailVerification(verification("t@example.com", "u-10"));
  });

  it("show and reset the counters; no address or userId is stored in clear", async () => {
    const herald = producer({ policy: { cooldownSeconds: 60, addressPerHour: 1, userPerHour: 5 } });
    await herald.emailVerification(verification("carol@example.com", "user-carol"));
    const view = await herald.limits.show({ address: "Carol@Example.com", userId: "user-carol" });
    expect(view.address).toMatchObject({ lastHour: 1, limit: 1 });
    expect(view.address!.retryAfter).toBeGreaterThan(3590);
    expect(view.address!.cooldowns["email-verification"]).toBeGreaterThan(55);
    expect(view.user).toMatchObject({ lastHour: 1, limit: 5, retryAfter: 0 });
    // The job itself carries its recipient (as every job does); the limit keys and values carry none.
    const stored = await dumpValues(redis, `${herald.prefix}:limit`);
    expect(stored).toContain(":limit:address:");
    expect(stored.toLowerCase()).not.toContain("carol");
    expect(await refusal(herald.emailVerification(verification("carol@example.com", "user-carol")))).toBeInstanceOf(RateLimitedError);
    expect(await herald.limits.reset({ address: "carol@example.com" })).toBeGreaterThan(0);
    await herald.emailVerification(verification("carol@example.com", "user-carol"));
  });

  it("the SMS guard: a country not allowed, premium-rate and shared-cost numbers are refused with reasons", async () => {
    const herald = producer({ policy: { cooldownSeconds: 0 }, smsAllowedCountries: ["CH", "DE"] });
    const france = await refusal(herald.phoneVerification(sms("+33612345678")));
    expect(france).toBeInstanceOf(ValidationError);
    expect((france as ValidationError).issues[0]).toMatchObject({ field: "recipient.phone", message: expect.stringContaining("is in FR") });
    const premium = await refusal(herald.phoneVerification(sms("+41900123456")));
    expect((premium as ValidationError).issues[0]!.message).toContain("premium-rate");
    const shared = await refusal(herald.phoneVerification(sms("+41840123456")));
    expect((shared as ValidationError).issues[0]!.message).toContain("shared-cost");
    await herald.phoneVerification(sms("+41791234567"));
    await herald.phoneVerification(sms("+4917612345678"));
  });
});

describe("limits: tenants, bulks, shards and the breaker set", () => {
  const redis = new Redis(REDIS_URL);
  const key = randomBytes(32).toString("base64");
  const prefixes: string[] = [];
  const heralds: Herald[] = [];
  const producer = (options: Omit<NonNullable<ConstructorParameters<typeof Herald>[0]>, "redis" | "prefix" | "encryptionKey">) => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key, ...options });
    heralds.push(herald);
    return herald;
  };
  /** Jobs in the channel's queue, over every shard. */
  const queued = async (herald: Herald, name: "email" | "sms") => {
    let total = 0;
    for (const prefix of shardPrefixes(herald.prefix, herald.shards)) {
      const queue = new Queue(name, { connection: redis, prefix });
      total += await queue.count();
      await queue.close();
    }
    return total;
  };

  afterAll(async () => {
    await Promise.all(heralds.map((h) => h.close()));
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it("the SMS country cap and breaker are global: a tenant may not set them, and a tenant's own limits leave the open breaker in force", async () => {
    expect(() => producer({ limits: { tenants: { small: { smsCountryPerHour: 1 } as never } } })).toThrow(
      /limits\.tenants\.small\.smsCountryPerHour.*HERALD_SMS_COUNTRY_PER_HOUR/,
    );
    expect(() => producer({ limits: { tenants: { small: { smsCountryPerHour: 0 } as never } } })).toThrow(/smsCountryPerHour/);
    expect(() => producer({ limits: { tenants: { slow: { smsCountryBreakerSeconds: 60 } as never } } })).toThrow(
      /limits\.tenants\.slow\.smsCountryBreakerSeconds/,
    );
    const herald = producer({ limits: { policy: { cooldownSeconds: 0, smsCountryPerHour: 2 }, tenants: { relaxed: { addressPerHour: 0, userPerHour: 0 } } } });
    await herald.phoneVerification(sms("+41791234511", "a"));
    await herald.phoneVerification({ ...sms("+41791234512", "b"), tenant: { id: "relaxed" } });
    expect(await refusal(herald.phoneVerification(sms("+41791234513", "c")))).toMatchObject({ limit: "sms-country", opened: true });
    expect(await refusal(herald.phoneVerification({ ...sms("+41791234514", "d"), tenant: { id: "relaxed" } }))).toMatchObject({
      limit: "sms-country",
      opened: false,
    });
    expect(await queued(herald, "sms")).toBe(2);
  });

  it("a bulk is all or nothing: a refused SMS number, or a later item over a limit, leaves no job in any queue and nothing counted", async () => {
    const herald = producer({ limits: { policy: { cooldownSeconds: 0, addressPerHour: 1, userPerHour: 100 }, smsAllowedCountries: ["CH"] } });
    const germany = await refusal(
      herald.enqueueBulk([
        { kind: "email-verification", job: verification("bulk-a@example.com") },
        { kind: "otp-sms", job: sms("+4915123456789") },
      ]),
    );
    expect(germany).toBeInstanceOf(ValidationError);
    expect((germany as ValidationError).issues[0]).toMatchObject({ field: "items.1.recipient.phone", message: expect.stringContaining("is in DE") });
    expect(await queued(herald, "email")).toBe(0);
    expect(await queued(herald, "sms")).toBe(0);

    // Item 2 is the number's second send in the hour (cap 1): refused, and the email and the first SMS neither queued nor counted.
    const over = await refusal(
      herald.enqueueBulk([
        { kind: "email-verification", job: verification("bulk-a@example.com") },
        { kind: "otp-sms", job: sms("+41791234521") },
        { kind: "phone-verification", job: sms("+41791234521") },
      ]),
    );
    expect(over).toBeInstanceOf(RateLimitedError);
    expect(over).toMatchObject({ limit: "address", message: expect.stringMatching(/^items\.2: /) });
    expect(await queued(herald, "email")).toBe(0);
    expect(await queued(herald, "sms")).toBe(0);
    expect(await herald.limits.show({ address: "bulk-a@example.com" })).toMatchObject({ address: { lastHour: 0 } });
    expect(await herald.limits.show({ address: "+41791234521" })).toMatchObject({ address: { lastHour: 0 } });
    // The same bulk without the extra item passes whole.
    const results = await herald.enqueueBulk([
      { kind: "email-verification", job: verification("bulk-a@example.com") },
      { kind: "otp-sms", job: sms("+41791234521") },
    ]);
    expect(results.map((r) => r.deduplicated)).toEqual([false, false]);
    expect(await queued(herald, "email")).toBe(1);
    expect(await queued(herald, "sms")).toBe(1);
  });

  it("with 4 shards one idempotency key reused for other recipients is counted each time; a repeat to the same recipient is free", async () => {
    const herald = producer({ shards: 4, limits: { policy: { cooldownSeconds: 0, smsCountryPerHour: 3, userPerHour: 2, addressPerHour: 1 } } });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        const result = await herald.otpSms({ ...sms(`+4179123${4500 + i}`, "attacker"), idempotencyKey: "same-key" });
        outcomes.push(result.deduplicated ? "deduplicated" : "queued");
      } catch (error) {
        if (!(error instanceof RateLimitedError)) throw error;
        outcomes.push(error.limit);
      }
    }
    expect(outcomes.filter((o) => o === "queued")).toHaveLength(2);
    expect(outcomes.filter((o) => o === "user")).toHaveLength(18);
    expect(await queued(herald, "sms")).toBe(2);
    expect(await herald.limits.show({ userId: "attacker" })).toMatchObject({ user: { lastHour: 2 } });
    // The first recipient again with the same key: BullMQ answers with its job, and the user cap (reached) is not in the way.
    const again = await herald.otpSms({ ...sms("+41791234500", "attacker"), idempotencyKey: "same-key" });
    expect(again.deduplicated).toBe(true);
  });

  it("open breakers are kept in one sorted set (no keyspace scan), expired members are dropped, and a reset removes the country", async () => {
    const herald = producer({ limits: { policy: { cooldownSeconds: 0, smsCountryPerHour: 1, smsCountryBreakerSeconds: 600 } } });
    await herald.phoneVerification(sms("+41791234531", "a"));
    const before = Date.now();
    expect(await refusal(herald.phoneVerification(sms("+41791234532", "b")))).toMatchObject({ limit: "sms-country", opened: true });
    const set = `${herald.prefix}:limit:breakers`;
    const [country, until] = await redis.zrange(set, "0", "-1", "WITHSCORES");
    expect(country).toBe("CH");
    expect(Number(until)).toBeGreaterThanOrEqual(before + 600_000);
    expect(Number(until)).toBeLessThanOrEqual(Date.now() + 600_000);
    const ttl = await redis.pttl(set);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
    // A member whose breaker has closed is not reported, and is removed.
    await redis.zadd(set, Date.now() - 1000, "FR");
    const open = await herald.limits.openBreakers();
    expect(open).toEqual([{ country: "CH", retryAfter: expect.any(Number) }]);
    expect(open[0]!.retryAfter).toBeGreaterThan(590);
    expect(open[0]!.retryAfter).toBeLessThanOrEqual(600);
    expect(await redis.zscore(set, "FR")).toBeNull();
    expect(await herald.limits.reset({ country: "ch" })).toBe(2);
    expect(await herald.limits.openBreakers()).toEqual([]);
    expect(await redis.zscore(set, "CH")).toBeNull();
    await herald.phoneVerification(sms("+41791234533", "c"));
  });
});

describe("limits over HTTP and the CLI", () => {
  let h: Awaited<ReturnType<typeof startApiHarness>>;
  beforeAll(async () => {
    h = await startApiHarness({
      workers: false,
      env: { HERALD_LIMITS: "1", HERALD_LIMIT_COOLDOWN_S: "30", HERALD_SMS_COUNTRY_PER_HOUR: "3", HERALD_LIMIT_ADDRESS_PER_HOUR: "5" },
    });
  });
  afterAll(() => h.close());

  it("429 with Retry-After and a problem+json body naming the limit; nothing queued", async () => {
    const payload = verification("dave@example.com");
    const post = () => h.app.inject({ method: "POST", url: "/v1/notifications/email-verification", headers: asEnqueue, payload });
    expect((await post()).statusCode).toBe(202);
    const res = await post();
    expect(res.statusCode).toBe(429);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    const retryAfter = Number(res.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(25);
    expect(retryAfter).toBeLessThanOrEqual(30);
    const body = res.json();
    expect(body).toMatchObject({ type: "urn:herald:problem:rate-limited", status: 429, limit: "cooldown", retryAfter });
    expect(body.detail).toContain("Nothing was queued");
    expect(JSON.stringify(body)).not.toContain("dave@");
    expect(await h.herald.limits.show({ address: "dave@example.com" })).toMatchObject({ address: { lastHour: 1 } });
  });

  it("a burst of SMS to one country opens its breaker (metric, clear reason); other countries keep flowing", async () => {
    const post = (phone: string, i: number) =>
      h.app.inject({ method: "POST", url: "/v1/notifications/phone-verification", headers: asEnqueue, payload: sms(phone, `burst-${i}`) });
    const swiss = ["+41791234501", "+41791234502", "+41791234503", "+41791234504", "+41791234505"];
    const statuses: number[] = [];
    for (const [i, phone] of swiss.entries()) statuses.push((await post(phone, i)).statusCode);
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    const refused = await post("+41791234506", 9);
    expect(refused.json()).toMatchObject({ limit: "sms-country", detail: expect.stringContaining("SMS to CH are paused") });
    expect((await post("+4917612345678", 10)).statusCode).toBe(202);
    const metrics = await h.app.heraldMetrics.render();
    expect(metrics).toContain('herald_sms_country_breaker_opened_total{country="CH"} 1');
    expect(metrics).toMatch(/herald_sms_country_breaker_open\{country="CH"\} \d+/);
    expect(metrics).toContain('herald_rate_limited_total{kind="phone-verification",limit="sms-country"} 3');
    const breakers = await h.app.inject({ method: "GET", url: "/v1/limits/breakers", headers: asAdmin });
    expect(breakers.json().open).toEqual([{ country: "CH", retryAfter: expect.any(Number) }]);
    // An admin closes it: Swiss SMS flow again.
    const reset = await h.app.inject({ method: "POST", url: "/v1/limits/reset", headers: asAdmin, payload: { country: "ch" } });
    expect(reset.json().removed).toBe(2);
    expect((await post("+41791234507", 11)).statusCode).toBe(202);
  });

  it("admin routes: look-up by address (in the body, not the URL) and reset; enqueue tokens may not", async () => {
    const lookup = await h.app.inject({ method: "POST", url: "/v1/limits/lookup", headers: asAdmin, payload: { address: "dave@example.com" } });
    expect(lookup.statusCode).toBe(200);
    expect(lookup.json().address).toMatchObject({ lastHour: 1, limit: 5, cooldowns: { "email-verification": expect.any(Number) } });
    const forbidden = await h.app.inject({ method: "POST", url: "/v1/limits/lookup", headers: asEnqueue, payload: { address: "dave@example.com" } });
    expect(forbidden.statusCode).toBe(403);
    const empty = await h.app.inject({ method: "POST", url: "/v1/limits/lookup", headers: asAdmin, payload: {} });
    expect(empty.statusCode).toBe(400);
    const reset = await h.app.inject({ method: "POST", url: "/v1/limits/reset", headers: asAdmin, payload: { address: "dave@example.com" } });
    expect(reset.json().removed).toBeGreaterThan(0);
    const res = await h.app.inject({
      method: "POST",
      url: "/v1/notifications/email-verification",
      headers: asEnqueue,
      payload: verification("dave@example.com"),
    });
    expect(res.statusCode).toBe(202);
  });

  it("the CLI exits 75 printing the wait; `herald limits show` prints the counters", async () => {
    const env = testEnv({ HERALD_LIMITS: "1", HERALD_LIMIT_COOLDOWN_S: "30" });
    const job = JSON.stringify({ ...verification("erin@example.com"), idempotencyKey: randomUUID() });
    try {
      const first = await runCli(["send", "email-verification", "--data", job], env);
      expect(first.code, first.stderr).toBe(0);
      const second = await runCli(["send", "email-verification", "--data", JSON.stringify(verification("erin@example.com"))], env);
      expect(second.code).toBe(75);
      expect(second.stderr).toMatch(/rate limited \(cooldown\).*try again in \d+ s/);
      expect(second.stderr).toMatch(/retry-after: (2\d|30)\n/);
      const asJson = await runCli(["send", "email-verification", "--json", "--data", JSON.stringify(verification("erin@example.com"))], env);
      expect(asJson.code).toBe(75);
      expect(JSON.parse(asJson.stdout)).toMatchObject({ error: "rate-limited", limit: "cooldown", retryAfter: expect.any(Number), queued: false });
      const show = await runCli(["limits", "show", "erin@example.com"], env);
      expect(show.code, show.stderr).toBe(0);
      expect(show.stdout).toContain("address: 1 in the last hour (limit 5)");
      expect(show.stdout).toMatch(/cooldowns: email-verification \d+ s left/);
    } finally {
      const redis = new Redis(REDIS_URL);
      await deleteKeys(redis, env.HERALD_PREFIX!);
      redis.disconnect();
    }
  }, 90_000);
});

describe("tenants file limits", () => {
  it("each tenant's `limits:` is read for the producer; a wrong value stops with the field named", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { readTenantLimits, loadTenants } = await import("../../src/templates/tenants.js");
    const dir = mkdtempSync(join(tmpdir(), "herald-tenants-"));
    const file = join(dir, "tenants.yaml");
    writeFileSync(
      file,
      "tenants:\n  acme:\n    from: Acme <no-reply@acme.com>\n    limits:\n      cooldownSeconds: 60\n      addressPerHour: 3\n  plain: {}\n",
    );
    expect(readTenantLimits(file)).toEqual({ acme: { cooldownSeconds: 60, addressPerHour: 3 } });
    // The renderer's strict reading accepts the section too.
    expect(loadTenants(file, () => new Set()).get("acme")?.limits).toEqual({ cooldownSeconds: 60, addressPerHour: 3 });
    writeFileSync(file, "tenants:\n  acme:\n    limits:\n      cooldownSecs: 60\n");
    expect(() => readTenantLimits(file)).toThrow(/tenants\.acme\.limits/);
    // The SMS country cap and breaker are global: refused per tenant, naming the field and the variable to use.
    writeFileSync(file, "tenants:\n  acme:\n    limits:\n      smsCountryPerHour: 5\n");
    expect(() => readTenantLimits(file)).toThrow(/tenants\.acme\.limits\.smsCountryPerHour is global, not per tenant.*HERALD_SMS_COUNTRY_PER_HOUR/);
    expect(() => loadTenants(file, () => new Set())).toThrow(/tenants\.acme\.limits\.smsCountryPerHour is global/);
    writeFileSync(file, "tenants:\n  acme:\n    limits:\n      smsCountryBreakerSeconds: 60\n");
    expect(() => readTenantLimits(file)).toThrow(/tenants\.acme\.limits\.smsCountryBreakerSeconds is global.*HERALD_SMS_COUNTRY_BREAKER_S/);
  });
});

describe("the worker's second look at a queued SMS", () => {
  it("an SMS queued before the allowlist was narrowed, or to a country whose breaker opened since, is dead-lettered without a Twilio request", async () => {
    const { startTwilioServer, twilioEnv } = await import("../support/twilio-server.js");
    const { startTestHerald } = await import("../support/herald.js");
    const twilio = await startTwilioServer();
    const h = await startTestHerald({
      ...twilioEnv(twilio),
      HERALD_LIMITS: "1",
      HERALD_LIMIT_COOLDOWN_S: "0",
      HERALD_SMS_ALLOWED_COUNTRIES: "CH,DE",
      HERALD_SMS_COUNTRY_PER_HOUR: "2",
    });
    // A producer that checks nothing: the jobs it queues reach the worker as they are.
    const unchecked = new Herald({ redis: REDIS_URL, prefix: h.config.HERALD_PREFIX, encryptionKey: h.config.HERALD_ENCRYPTION_KEY, limits: false });
    try {
      await unchecked.phoneVerification(sms("+33612345678"));
      const france = await h.nextDeadLetter();
      expect(france.failureClass).toBe("permanent");
      const letter = await h.workers.deadLetters.get(`sms-${france.job.id}`);
      expect(letter).toMatchObject({ code: "sms-guard" });
      expect(letter!.reason).toContain("is in FR, which HERALD_SMS_ALLOWED_COUNTRIES does not list");

      await h.herald.phoneVerification(sms("+41791234501", "a"));
      await h.herald.phoneVerification(sms("+41791234502", "b"));
      await h.nextDelivery();
      await h.nextDelivery();
      expect(await refusal(h.herald.phoneVerification(sms("+41791234503", "c")))).toMatchObject({ limit: "sms-country", opened: true });
      await unchecked.phoneVerification(sms("+41791234504", "d"));
      const paused = await h.nextDeadLetter();
      expect((await h.workers.deadLetters.get(`sms-${paused.job.id}`))!.reason).toContain("SMS to CH are paused");
      // Germany keeps flowing.
      await h.herald.phoneVerification(sms("+4917612345678", "e"));
      expect((await h.nextDelivery()).result.provider).toBe("twilio");
      expect(twilio.messages.map((m) => m.To)).toEqual(["+41791234501", "+41791234502", "+4917612345678"]);
    } finally {
      await unchecked.close();
      await h.close();
      await twilio.close();
    }
  });
});
