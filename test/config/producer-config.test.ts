import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config/index.js";
import { loadProducerConfig, ProducerConfigError, producerVariables, retryPolicyOf } from "../../src/config/producer.js";
import { Herald } from "../../src/queues/producer.js";
import { deleteKeys, REDIS_URL, testEnv, uniquePrefix } from "../support/herald.js";

const job = { recipient: { userId: "u1", email: "ada@example.com" }, code: "K7Q-1", url: "https://login.example.com/r" };

describe("one configuration: the producer's slice is the service's", () => {
  const saved = { ...process.env };
  const redis = new Redis(REDIS_URL);
  let herald: Herald | undefined;
  afterEach(async () => {
    await herald?.close();
    herald = undefined;
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("every producer variable is a service variable, with the same default", () => {
    for (const name of Object.keys(producerVariables)) expect(CONFIG_VARIABLES, name).toContain(name);
    const env = testEnv();
    const service = loadConfig(env);
    const producer = loadProducerConfig(env);
    expect(retryPolicyOf(producer)).toEqual(retryPolicyOf(service));
    expect(producer.HERALD_PREFIX).toBe(service.HERALD_PREFIX);
    expect(retryPolicyOf(loadProducerConfig({})).attempts).toBe(loadConfig({ HERALD_DEV: "1" }).HERALD_ATTEMPTS);
  });

  it("the SDK's jobs carry the retry policy of its environment, like the CLI's and the API's", async () => {
    const prefix = uniquePrefix();
    Object.assign(process.env, {
      HERALD_ATTEMPTS: "3",
      HERALD_BACKOFF_MS: "1234",
      HERALD_PREFIX: prefix,
      HERALD_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    });
    herald = new Herald({ redis: REDIS_URL });
    const { id } = await herald.emailVerification(job);
    const queue = new Queue("email", { connection: redis, prefix });
    const stored = await queue.getJob(id);
    expect(stored?.opts.attempts).toBe(3);
    expect(stored?.opts.backoff).toMatchObject({ type: "exponential", delay: 1234 });
    await queue.close();
    await deleteKeys(redis, prefix);
  });

  it("a bad value in the producer's environment is named, as the service names it", () => {
    process.env.HERALD_ATTEMPTS = "many";
    expect(() => new Herald({ redis: REDIS_URL, encryptionKey: randomBytes(32) })).toThrow(ProducerConfigError);
    expect(() => new Herald({ redis: REDIS_URL, encryptionKey: randomBytes(32) })).toThrow(/HERALD_ATTEMPTS must be a whole number/);
  });
});
