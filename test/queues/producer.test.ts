import { createHash, randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { KIND_NAMES, parseJob, ValidationError } from "../../src/contracts/index.js";
import { openEnvelope } from "../../src/queues/envelope.js";
import { Herald, methodName } from "../../src/queues/producer.js";
import { deleteKeys, dumpValues, REDIS_URL, uniquePrefix } from "../support/herald.js";

const key = randomBytes(32).toString("base64");
const job = { recipient: { userId: "u1", email: "ada@example.com" }, code: "TOPSECRET-4711", url: "https://login.example.com/reset?code=TOPSECRET-4711" };

describe("producer SDK", () => {
  const redis = new Redis(REDIS_URL);
  const prefix = uniquePrefix();
  let herald: Herald | undefined;
  afterEach(async () => {
    await herald?.close();
    await deleteKeys(redis, prefix);
  });

  async function waiting(channel: string): Promise<number> {
    const queue = new Queue(channel, { connection: redis, prefix });
    const count = await queue.getWaitingCount();
    await queue.close();
    return count;
  }

  it("returns the job id and puts the job on its channel's queue", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    const result = await herald.passwordReset(job);
    expect(result).toMatchObject({ kind: "password-reset", channel: "email", deduplicated: false });
    expect(result.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await waiting("email")).toBe(1);
    const sms = await herald.passwordReset({ channel: "sms", recipient: { userId: "u", phone: "+41791234567" }, code: "1" });
    expect(sms.channel).toBe("sms");
    expect(await waiting("sms")).toBe(1);
  });

  it("has one method per kind, named from the kind, doing what enqueue(kind) does", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    expect(KIND_NAMES.map(methodName)).toEqual([
      "resendInitialization",
      "emailVerification",
      "phoneVerification",
      "passwordReset",
      "passkeyLink",
      "otpSms",
      "otpEmail",
      "inviteUser",
      "passwordChanged",
      "emailChanged",
      "mfaChanged",
    ]);
    for (const kind of KIND_NAMES) expect(typeof (herald as unknown as Record<string, unknown>)[methodName(kind)], kind).toBe("function");
    const result = await herald.emailVerification(job);
    expect(result).toMatchObject({ kind: "email-verification", channel: "email", deduplicated: false });
    expect(await waiting("email")).toBe(1);
  });

  it("throws a ValidationError naming every bad field and enqueues nothing", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    const error = await herald.emailVerification({ recipient: { userId: "", email: "nope" } } as never).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field).sort()).toEqual(["code", "recipient.email", "recipient.userId", "url"]);
    expect(error.message).toMatch(/recipient\.email must be a valid email address/);
    expect(await waiting("email")).toBe(0);
  });

  it("refuses a code that has already expired", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    const error = await herald.emailVerification({ ...job, expiresAt: new Date(Date.now() - 1000).toISOString() }).catch((e) => e);
    expect((error as ValidationError).issues).toEqual([{ field: "expiresAt", message: "is in the past: the code has already expired" }]);
    expect(await waiting("email")).toBe(0);
  });

  it("enqueueBulk validates all first: one bad item enqueues none and names items.N", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    const error = await herald
      .enqueueBulk([
        { kind: "email-verification", job },
        { kind: "phone-verification", job: { recipient: { userId: "u" }, code: "1" } },
      ])
      .catch((e) => e);
    expect((error as ValidationError).issues).toEqual([{ field: "items.1.recipient.phone", message: "is required for an SMS" }]);
    expect(await waiting("email")).toBe(0);
    const ok = await herald.enqueueBulk([
      { kind: "email-verification", job },
      { kind: "phone-verification", job: { recipient: { userId: "u", phone: "+41791234567" }, code: "1" } },
      { kind: "passkey-link", job: { ...job, codeId: "c1" } },
    ]);
    expect(ok.map((r) => r.channel)).toEqual(["email", "sms", "email"]);
    expect(await waiting("email")).toBe(2);
    expect(await waiting("sms")).toBe(1);
  });

  it("the same idempotencyKey twice within 24 h gives the first job's id and enqueues once", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    const first = await herald.emailVerification({ ...job, idempotencyKey: "evt-1" });
    const second = await herald.emailVerification({ ...job, idempotencyKey: "evt-1" });
    const other = await herald.emailVerification({ ...job, idempotencyKey: "evt-2" });
    expect(second).toEqual({ ...first, deduplicated: true });
    expect(other.id).not.toBe(first.id);
    expect(await waiting("email")).toBe(2);
  });

  it("idempotencyHash is keyed: stable for one encryption key (a keyring hashes under its current key), different under another", async () => {
    const other = randomBytes(32).toString("base64");
    const make = (opts: ConstructorParameters<typeof Herald>[0]) => new Herald({ redis: REDIS_URL, prefix, ...opts });
    const heralds = [
      make({ encryptionKey: key }),
      make({ encryptionKey: key }),
      make({ encryptionKey: other }),
      make({ encryptionKeys: `new:${key},old:${other}` }),
    ];
    try {
      const [a, b, c, ring] = heralds.map((h) => h.idempotencyHash("adapter:zitadel", "otp\u0000+41791234567\u0000482913"));
      expect(a).toBe(b);
      expect(ring).toBe(a);
      expect(c).not.toBe(a);
      expect(a).not.toBe(createHash("sha256").update("otp\u0000+41791234567\u0000482913").digest("base64url").slice(0, a!.length));
      expect(heralds[0]!.idempotencyHash("adapter:kratos", "otp\u0000+41791234567\u0000482913")).not.toBe(a);
    } finally {
      await Promise.all(heralds.map((h) => h.close()));
    }
  });

  it("codes and links are encrypted: no Redis value contains them", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    await herald.passwordReset(job);
    await herald.passkeyLink({ ...job, url: undefined, codeId: "CODEID-XYZ", urlTemplate: "https://login.example.com/pk?id={{codeId}}&c={{code}}" });
    const everything = await dumpValues(redis, prefix);
    expect(everything).toContain("ada@example.com"); // the dump does see job data…
    expect(everything).not.toContain("TOPSECRET-4711"); // …but not the code,
    expect(everything).not.toContain("login.example.com"); // the link,
    expect(everything).not.toContain("CODEID-XYZ"); // or the code id
  });

  it("notices without a code seal what they have (a link, a new address), and open again to the same job", async () => {
    herald = new Herald({ redis: REDIS_URL, prefix, encryptionKey: key });
    await herald.emailChanged({
      recipient: { userId: "u7", email: "old@example.com" },
      newEmail: "NEW-ADDRESS@example.org",
      url: "https://secure.example.com/u7",
    });
    await herald.passwordChanged({ recipient: { userId: "u8", email: "pw@example.com" } });
    const everything = await dumpValues(redis, prefix);
    expect(everything).toContain("old@example.com");
    expect(everything).not.toContain("NEW-ADDRESS");
    expect(everything).not.toContain("secure.example.com");
    const queue = new Queue("email", { connection: redis, prefix });
    const jobs = await queue.getWaiting();
    await queue.close();
    const opened = jobs.map((j) => ({ kind: j.data.kind, open: j.data.job, job: openEnvelope(j.data, Buffer.from(key, "base64")) }));
    const changed = opened.find((o) => o.kind === "email-changed")!;
    expect(changed.open).not.toHaveProperty("newEmail");
    expect(changed.job).toMatchObject({ newEmail: "NEW-ADDRESS@example.org", url: "https://secure.example.com/u7", recipient: { email: "old@example.com" } });
    // occurredAt was filled in at enqueue and is stored in the open, so the worker shows the time of the change, not of delivery
    const password = opened.find((o) => o.kind === "password-changed")!;
    expect(Date.now() - Date.parse(password.open.occurredAt)).toBeLessThan(60_000);
    expect(password.job).not.toHaveProperty("code");
    expect(parseJob("password-changed", password.job)).toMatchObject({ occurredAt: password.open.occurredAt });
  });

  it("refuses a prefix without a Redis Cluster hash tag", () => {
    expect(() => new Herald({ redis: REDIS_URL, prefix: "herald", encryptionKey: key })).toThrow(/hash tag/);
  });

  it("refuses a key that is not 32 bytes", () => {
    expect(() => new Herald({ redis: REDIS_URL, prefix, encryptionKey: "c2hvcnQ=" })).toThrow(/32 bytes/);
  });
});

describe("producer SDK without Redis", () => {
  it("fails within its timeout with a clear error (not queued, with the id to retry with) instead of hanging", async () => {
    const { NotQueuedError } = await import("../../src/queues/producer.js");
    const herald = new Herald({ redis: "redis://127.0.0.1:1", prefix: uniquePrefix(), encryptionKey: key, timeoutMs: 300 });
    try {
      const error = await herald.passwordReset(job).catch((e) => e);
      expect(error).toBeInstanceOf(NotQueuedError);
      expect(error.queued).toBe(false);
      expect(error.jobId).toMatch(/^[0-9a-f-]{36}$/);
      expect(error.message).toMatch(/Redis could not be reached within 300 ms/);
      expect(error.message).toMatch(/ECONNREFUSED/);
    } finally {
      await herald.close().catch(() => {});
    }
  });
});
