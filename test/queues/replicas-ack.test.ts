import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnqueueError, Herald, ReplicationTimeoutError } from "../../src/queues/producer.js";
import { ENQUEUE_TOKEN, startApiHarness } from "../support/harness.js";
import { REDIS_URL, uniquePrefix, deleteKeys } from "../support/herald.js";
import { type RedisProcess, startRedisServer } from "../support/redis-server.js";
import { randomBytes, randomUUID } from "node:crypto";
import { Queue } from "bullmq";

const job = { recipient: { userId: "u1", email: "ada@example.com" }, code: "123456", url: "https://login.example.com/verify", idempotencyKey: "ack-1" };
const key = randomBytes(32);

describe("HERALD_REPLICAS_ACK: an enqueue resolves once replicas hold the job", () => {
  let master: RedisProcess;
  let replica: RedisProcess;

  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer({ args: () => ["--replicaof", "127.0.0.1", String(master.port)] });
    const client = new Redis(replica.url);
    try {
      for (;;) {
        if (/master_link_status:up/.test(await client.info("replication"))) break;
        await new Promise((r) => setTimeout(r, 100)); // the initial sync has no event to await from here
      }
    } finally {
      client.disconnect();
    }
  }, 30_000);
  afterAll(async () => {
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it("with a replica: resolved means the replica has the job", async () => {
    const prefix = uniquePrefix();
    const herald = new Herald({ redis: master.url, prefix, replicasAck: 1, encryptionKey: key });
    const onReplica = new Redis(replica.url);
    try {
      for (let i = 0; i < 20; i++) {
        const { id } = await herald.emailVerification({ ...job, idempotencyKey: `with-replica-${i}` });
        // Read at once, no waiting: WAIT already confirmed it.
        expect(await onReplica.exists(`${prefix}:email:${id}`)).toBe(1);
      }
    } finally {
      await herald.close();
      onReplica.disconnect();
    }
  });

  it("without one: ReplicationTimeoutError with the job id; a retry with the same id creates no second job", async () => {
    const prefix = uniquePrefix();
    const herald = new Herald({ redis: REDIS_URL, prefix, replicasAck: 1, replicasAckTimeoutMs: 100, encryptionKey: key });
    const redis = new Redis(REDIS_URL);
    const queue = new Queue("email", { connection: redis, prefix });
    try {
      const id = randomUUID();
      const error = await herald.emailVerification(job, { id }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicationTimeoutError);
      expect(error).toBeInstanceOf(EnqueueError);
      expect(error).toMatchObject({ jobId: id, queued: "maybe", wanted: 1, confirmed: 0 });
      expect((error as Error).message).toMatch(/0 of 1 replica\(s\) confirmed it within 100 ms \(HERALD_REPLICAS_ACK\).*same id .* or idempotency key/);
      await expect(herald.emailVerification(job, { id })).rejects.toBeInstanceOf(ReplicationTimeoutError);
      expect(await queue.getWaitingCount()).toBe(1);
    } finally {
      await queue.close();
      await herald.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });

  it("the API answers 503 with a retry header and says why", async () => {
    const herald = new Herald({ redis: REDIS_URL, prefix: uniquePrefix(), replicasAck: 1, replicasAckTimeoutMs: 100, encryptionKey: key });
    const h2 = await startApiHarness({ workers: false, server: { herald } });
    try {
      const res = await h2.app.inject({
        method: "POST",
        url: "/v1/notifications/email-verification",
        headers: { authorization: `Bearer ${ENQUEUE_TOKEN}` },
        payload: job,
      });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.json().detail).toMatch(/fewer replicas than HERALD_REPLICAS_ACK confirmed it in time.*Idempotency-Key/);
    } finally {
      await herald.close();
      await h2.close();
    }
  });
});
