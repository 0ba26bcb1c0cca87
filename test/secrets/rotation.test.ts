import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { seal, unseal } from "../../src/secrets/cipher.js";
import { parseKeyList } from "../../src/secrets/key.js";
import { startWorkers } from "../../src/workers/start.js";
import { deleteKeys, testEnv } from "../support/herald.js";

const OLD = randomBytes(32).toString("base64");
const NEW = randomBytes(32).toString("base64");
const logger = createLogger({ level: "silent" });
const job = (n: number) => ({ recipient: { userId: `u${n}`, email: `r${n}@example.com` }, code: `ROT-${n}`, url: `https://x.test/v?${n}` });

describe("sealed values name their key", () => {
  it("a keyring seals v2.<kid>.…; a single key keeps v1.…; both open with any listed key", () => {
    const ring = parseKeyList(`new:${NEW},old:${OLD}`);
    const single = Buffer.from(OLD, "base64");
    expect(seal(ring, { a: 1 })).toMatch(/^v2\.new\./);
    expect(seal(single, { a: 1 })).toMatch(/^v1\./);
    expect(unseal(ring, seal(single, { a: 1 }))).toEqual({ a: 1 });
    expect(unseal(ring, seal(parseKeyList(`old:${OLD}`), { b: 2 }))).toEqual({ b: 2 });
    expect(() => unseal(parseKeyList(`old:${OLD}`), seal(ring, { c: 3 }))).toThrow(
      /sealed with key id new, which this worker's HERALD_ENCRYPTION_KEYS does not list/,
    );
    expect(() => unseal(parseKeyList(`new:${OLD}`), seal(ring, { c: 3 }))).toThrow(
      /key id new in this worker's HERALD_ENCRYPTION_KEYS is not the key the producer calls new/,
    );
  });
});

describe("rotating HERALD_ENCRYPTION_KEYS with jobs in flight", { timeout: 60_000 }, () => {
  const env = testEnv({ HERALD_ENCRYPTION_KEY: undefined, HERALD_ENCRYPTION_KEYS: `new:${NEW},old:${OLD}` });
  const redis = new Redis(env.REDIS_URL);
  afterAll(async () => {
    await deleteKeys(redis, env.HERALD_PREFIX);
    redis.disconnect();
  });

  it("jobs sealed with the old key (v1 single key and v2 old id) are delivered by a worker whose list has the new key first", async () => {
    // Queued before the rotation, while no worker runs: one producer on the old single key, one on a list with only "old".
    const before = [
      new Herald({ redis: env.REDIS_URL, prefix: env.HERALD_PREFIX, encryptionKey: OLD }),
      new Herald({ redis: env.REDIS_URL, prefix: env.HERALD_PREFIX, encryptionKeys: `old:${OLD}` }),
    ];
    const queued = [await before[0]!.emailVerification(job(1)), await before[1]!.emailVerification(job(2))];
    await Promise.all(before.map((h) => h.close()));

    // After the rotation: producers seal with "new"; the worker lists "new" first and "old" second.
    const after = new Herald({ redis: env.REDIS_URL, prefix: env.HERALD_PREFIX, encryptionKeys: env.HERALD_ENCRYPTION_KEYS });
    queued.push(await after.emailVerification(job(3)));
    await after.close();
    const email = new Queue("email", { connection: redis, prefix: env.HERALD_PREFIX });
    const sealed = await Promise.all(queued.map(async ({ id }) => ((await email.getJob(id))!.data as { sealed: string }).sealed));
    await email.close();
    expect(
      sealed.map((s) =>
        s
          .split(".")
          .slice(0, s.startsWith("v2") ? 2 : 1)
          .join("."),
      ),
    ).toEqual(["v1", "v2.old", "v2.new"]);

    const workers = await startWorkers({ config: loadConfig(env), logger, channels: ["email"] });
    const delivered: string[] = [];
    const dead: string[] = [];
    await new Promise<void>((resolve) => {
      const settle = () => delivered.length + dead.length === 3 && resolve();
      workers.events.on("delivered", (j) => (delivered.push(j.id), settle()));
      workers.events.on("dead-lettered", (j) => (dead.push(j.id), settle()));
    });
    await workers.close();
    expect(dead).toEqual([]);
    expect(delivered.sort()).toEqual(queued.map((q) => q.id).sort());
  });

  it("a worker that lacks the new key dead-letters its jobs as invalid, naming the key id (replayable once it has it)", async () => {
    const producer = new Herald({ redis: env.REDIS_URL, prefix: env.HERALD_PREFIX, encryptionKeys: env.HERALD_ENCRYPTION_KEYS });
    const { id } = await producer.emailVerification(job(4));
    await producer.close();
    const workers = await startWorkers({ config: loadConfig({ ...env, HERALD_ENCRYPTION_KEYS: `old:${OLD}` }), logger, channels: ["email"] });
    const failureClass = await new Promise((resolve) => workers.events.once("dead-lettered", (_j, c) => resolve(c)));
    const letter = await workers.deadLetters.get(`email-${id}`);
    await workers.close();
    expect(failureClass).toBe("invalid");
    expect(letter?.reason).toMatch(/sealed with key id new/);
  });
});
