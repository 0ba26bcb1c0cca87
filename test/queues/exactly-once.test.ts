import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createHttpServer, loadHttpConfig, type HeraldHttpServer } from "../../src/http/index.js";
import { createLogger } from "../../src/logger.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { EnqueueError, EnqueueTimeoutError, Herald, NotQueuedError } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { asEnqueue, TOKENS } from "../support/harness.js";
import { deleteKeys, startTestHerald, testEnv, uniquePrefix } from "../support/herald.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { startRedisServer, type RedisProcess } from "../support/redis-server.js";

const key = randomBytes(32).toString("base64");
const job = (code: string, idempotencyKey?: string) => ({
  recipient: { userId: "u1", email: "ada@example.com" },
  code,
  url: `https://login.example.com/reset?code=${code}`,
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

// A Redis of the test's own, paused with SIGSTOP and stopped outright: the enqueue's outcome is unknown
// (or known to have failed), and a retry with the id from the error must never make a second job.
describe("exactly-once enqueue against a stalled or stopped Redis", () => {
  let redis: RedisProcess;
  let client: Redis;
  let prefix: string;
  let herald: Herald;
  let email: Queue;

  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function connect() {
    prefix = uniquePrefix();
    client = new Redis(redis.url, { maxRetriesPerRequest: 3, retryStrategy: (n) => Math.min(50 * 2 ** n, 500) });
    client.on("error", () => {});
    await client.ping();
    herald = new Herald({ redis: client, prefix, encryptionKey: key, timeoutMs: 500 });
    email = new Queue("email", { connection: client, prefix });
    email.on("error", () => {});
  }
  afterEach(async () => {
    redis.resume();
    await herald?.close();
    await email?.close();
    client?.disconnect();
  });

  const jobsIn = async () => (await email.getJobs(["waiting", "active", "completed", "delayed", "failed"])).filter(Boolean);

  it("a stalled Redis: EnqueueTimeoutError carries the id; the retry with it finds the first job", async () => {
    await connect();
    redis.pause();
    const error = await herald.passwordReset(job("STALL-1")).catch((e) => e);
    expect(error).toBeInstanceOf(EnqueueTimeoutError);
    expect(error).toBeInstanceOf(EnqueueError);
    expect(error.queued).toBe("maybe");
    expect(error.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toContain(error.jobId);
    redis.resume();

    // The stalled write reached Redis when it woke up: the retry finds that job and says so.
    const retried = await herald.passwordReset(job("STALL-1"), { id: error.jobId });
    expect(retried).toMatchObject({ id: error.jobId, deduplicated: true });
    const jobs = await jobsIn();
    expect(jobs.map((j) => j.id)).toEqual([error.jobId]);
  });

  it("the same with an idempotencyKey: one job, the dedup key still names it, a later repeat is deduplicated", async () => {
    await connect();
    redis.pause();
    const error: EnqueueError = await herald.passwordReset(job("STALL-2", "reset-u1-1")).catch((e) => e);
    expect(error).toBeInstanceOf(EnqueueTimeoutError);
    redis.resume();
    // Twice, as a caller that is unsure would: neither adds a job.
    for (let i = 0; i < 2; i++)
      expect(await herald.passwordReset(job("STALL-2", "reset-u1-1"), { id: error.jobId })).toMatchObject({ id: error.jobId, deduplicated: true });
    // Without the id, the key alone still finds the job (the first attempt reached Redis when it woke up).
    expect(await herald.passwordReset(job("STALL-2", "reset-u1-1"))).toMatchObject({ id: error.jobId, deduplicated: true });
    expect((await jobsIn()).map((j) => j.id)).toEqual([error.jobId]);
  });

  /** Stops the server and waits until the client has seen its connection close (the exit comes first). */
  async function stopRedis() {
    const closed = once(client, "close");
    await redis.shutdown();
    await closed;
  }

  it("a stopped Redis: NotQueuedError (nothing was written) with the id; after the restart the retry makes exactly one job", async () => {
    await connect();
    await stopRedis();
    try {
      const error = await herald.passwordReset(job("DOWN-1")).catch((e) => e);
      expect(error).toBeInstanceOf(NotQueuedError);
      expect(error.queued).toBe(false);
      expect(error.jobId).toMatch(/^[0-9a-f-]{36}$/);
      expect(error.name).toBe("NotQueuedError");
      await redis.restart();
      // Time enough for the client's next reconnect attempt.
      const retried = await herald.passwordReset(job("DOWN-1"), { id: error.jobId, timeoutMs: 10_000 });
      expect(retried.id).toBe(error.jobId);
      expect((await jobsIn()).map((j) => j.id)).toEqual([error.jobId]);
    } finally {
      await redis.restart(); // a no-op when the test got that far
    }
  });

  it("the SDK waits for Redis to come back within the timeout, then enqueues once", async () => {
    await connect();
    await stopRedis();
    const pending = herald.passwordReset(job("BLIP-1"), { timeoutMs: 15_000 });
    // More reconnect attempts than maxRetriesPerRequest (3): a write left in ioredis's offline queue would have failed by then.
    let reconnects = 0;
    await new Promise<void>((resolve) => client.on("reconnecting", () => ++reconnects === 5 && resolve()));
    await redis.restart();
    const result = await pending;
    expect((await jobsIn()).map((j) => j.id)).toEqual([result.id]);
  });

  it("a caller's own id is used as the job id; an id that is not a UUID is a ValidationError naming `id`", async () => {
    await connect();
    const id = randomUUID();
    expect((await herald.passwordReset(job("OWN-1"), { id })).id).toBe(id);
    expect((await herald.passwordReset(job("OWN-1"), { id: id.toUpperCase() })).id).toBe(id);
    const bad = await herald.passwordReset(job("OWN-2"), { id: "42" }).catch((e) => e);
    expect(bad.issues).toEqual([{ field: "id", message: expect.stringMatching(/UUID/) }]);
    expect((await jobsIn()).map((j) => j.id)).toEqual([id]);
  });

  it("a bulk that timed out is retried with the error's jobIds: no item twice", async () => {
    await connect();
    const items = [
      { kind: "password-reset" as const, job: job("BULK-1") },
      { kind: "password-reset" as const, job: job("BULK-2") },
    ];
    redis.pause();
    const error: EnqueueError = await herald.enqueueBulk(items).catch((e) => e);
    expect(error).toBeInstanceOf(EnqueueTimeoutError);
    expect(error.jobIds).toHaveLength(2);
    redis.resume();
    const results = await herald.enqueueBulk(items.map((item, i) => ({ ...item, id: error.jobIds[i] })));
    expect(results.map((r) => r.id)).toEqual(error.jobIds);
    expect((await jobsIn()).map((j) => j.id).sort()).toEqual([...error.jobIds].sort());
  });
});

describe("HTTP: Idempotency-Key makes a retried request queue at most once, and a stalled Redis delivers once", () => {
  let redis: RedisProcess;
  let client: Redis;
  let app: HeraldHttpServer;
  let herald: Herald;
  let deadLetters: DeadLetters;
  const env = testEnv();

  beforeAll(async () => {
    redis = await startRedisServer({ appendOnly: false });
    env.REDIS_URL = redis.url;
    client = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    client.on("error", () => {});
    await client.ping();
    herald = new Herald({ redis: client, prefix: env.HERALD_PREFIX, encryptionKey: env.HERALD_ENCRYPTION_KEY, timeoutMs: 10_000 });
    deadLetters = new DeadLetters(client, env.HERALD_PREFIX);
    app = await createHttpServer({
      config: loadHttpConfig({ HERALD_API_TOKENS: TOKENS }),
      herald,
      deadLetters,
      connection: client,
      prefix: env.HERALD_PREFIX,
      logger: createLogger({ level: "silent" }),
      redisTimeoutMs: 500,
    });
  });
  afterAll(async () => {
    redis.resume();
    await app?.close();
    await herald?.close();
    await deadLetters?.close();
    await deleteKeys(client, env.HERALD_PREFIX).catch(() => {});
    client?.disconnect();
    await redis?.stop();
  });

  const post = (headers: Record<string, string> = {}) =>
    app.inject({
      method: "POST",
      url: "/v1/notifications/phone-verification",
      headers: { ...asEnqueue, ...headers },
      payload: { recipient: { userId: "u-h", phone: "+41791234567" }, code: "48151623" },
    });

  it("503 names the id to retry with; the retry with it answers 202 with that id; the workers deliver it once", async () => {
    redis.pause();
    const first = await post();
    expect(first.statusCode).toBe(503);
    const { id, queued, detail } = first.json();
    expect(queued).toBe("maybe");
    expect(detail).toContain(`Idempotency-Key: ${id}`);
    redis.resume();

    const retried = await post({ "idempotency-key": id });
    expect(retried.statusCode).toBe(202);
    expect(retried.json().id).toBe(id);

    // A client's own key, retried: one job.
    const mine = randomUUID();
    redis.pause();
    expect((await post({ "idempotency-key": mine })).json().id).toBe(mine);
    redis.resume();
    expect((await post({ "idempotency-key": mine })).json().id).toBe(mine);

    const workers = await startWorkers({ config: loadConfig(env), logger: createLogger({ level: "silent" }) });
    try {
      const delivered = new Set<string>();
      await new Promise<void>((resolve) =>
        workers.events.on("delivered", (j: { id: string }) => {
          delivered.add(j.id);
          if (delivered.size === 2) resolve();
        }),
      );
      expect([...delivered].sort()).toEqual([id, mine].sort());
    } finally {
      await workers.close();
    }
    const sent = readdirSync(env.HERALD_OUTBOX_DIR).filter((f) => f.endsWith(".sms.json"));
    expect(sent).toHaveLength(2);
    const sms = new Queue("sms", { connection: client, prefix: env.HERALD_PREFIX });
    expect(await sms.getJobCounts("waiting", "active", "delayed", "completed", "failed")).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: 2,
      failed: 0,
    });
    await sms.close();
  });

  it("the same Idempotency-Key again answers deduplicated, with the first job's state, and adds nothing", async () => {
    const key = randomUUID();
    const first = await post({ "idempotency-key": key });
    expect(first.json()).toMatchObject({ id: key, status: "queued", deduplicated: false });
    const again = await post({ "idempotency-key": key });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ id: key, deduplicated: true });
  });

  it("an Idempotency-Key that is not a UUID is a 400 naming the header; nothing is queued", async () => {
    const res = await post({ "idempotency-key": "not-a-uuid" });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: "Idempotency-Key", message: expect.stringMatching(/UUID/) }]);
  });
});

describe("a retry with the id of a job that was dead-lettered meanwhile", () => {
  it("adds nothing and sends nothing: it answers that job's id, deduplicated", async () => {
    const smtp = await startSmtpServer();
    const h = await startTestHerald({ SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" });
    try {
      smtp.rejectFor("gone@example.com", { code: 550, message: "5.1.1 no such user" });
      const id = randomUUID();
      const input = { recipient: { userId: "u", email: "gone@example.com" }, code: "DL-1", url: "https://x.test/v" };
      const dead = h.nextDeadLetter();
      await h.herald.emailVerification(input, { id });
      expect((await dead).failureClass).toBe("permanent");
      const attempts = smtp.attempts;

      expect(await h.herald.emailVerification(input, { id })).toMatchObject({ id, deduplicated: true });
      // The same in a bulk retry: that item is skipped, the others are added.
      const other = randomUUID();
      const bulk = await h.herald.enqueueBulk([
        { kind: "email-verification", job: input, id },
        { kind: "email-verification", job: { ...input, recipient: { userId: "u", email: "ok@example.com" } }, id: other },
      ]);
      expect(bulk.map((r) => [r.id, r.deduplicated])).toEqual([
        [id, true],
        [other, false],
      ]);
      await h.nextDelivery();
      const email = new Queue("email", { connection: h.redis, prefix: h.config.HERALD_PREFIX });
      expect(await email.getJob(id)).toBeUndefined();
      await email.close();
      // A later notification goes through the same worker; the dead one was not tried again.
      const next = h.nextDelivery();
      await h.herald.emailVerification({ ...input, recipient: { userId: "u", email: "ok@example.com" } });
      await next;
      expect(smtp.attempts).toBe(attempts + 2);
    } finally {
      await h.close();
      await smtp.close();
    }
  });
});
