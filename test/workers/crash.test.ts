import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { spawnCli, waitForLog } from "../support/cli.js";
import { deleteKeys, testEnv } from "../support/herald.js";
import { startSmtpServer } from "../support/smtp-server.js";
import { Redis } from "ioredis";

describe("a worker killed with jobs in flight", { timeout: 60_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("loses nothing: another worker completes every job, each delivered once", async () => {
    const smtp = await startSmtpServer();
    cleanups.push(() => smtp.close());
    const env = testEnv({
      SMTP_URL: smtp.url,
      SMTP_FROM: "Acme <no-reply@acme.test>",
      LOG_LEVEL: "info",
      HERALD_LOCK_MS: "2000",
      HERALD_STALLED_INTERVAL_MS: "1000",
    });
    const config = loadConfig(env);
    const redis = new Redis(config.REDIS_URL);
    cleanups.push(async () => {
      await deleteKeys(redis, config.HERALD_PREFIX);
      redis.disconnect();
    });

    smtp.hold(); // the first worker gets every job as far as SMTP DATA, and no further
    const doomed = spawnCli(["worker", "--queues", "email", "--concurrency", "5"], env);
    cleanups.push(async () => void doomed.kill("SIGKILL"));
    await waitForLog(doomed, "workers started");

    const herald = new Herald({ redis: config.REDIS_URL, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    cleanups.push(() => herald.close());
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await herald.emailVerification({ recipient: { userId: `u${i}`, email: `user${i}@example.com` }, code: `C${i}`, url: "https://x.test/v" })).id);
    }
    await smtp.waitForHeld(5);

    doomed.kill("SIGKILL");
    await once(doomed, "exit");
    smtp.dropHeld(); // those sessions died with their worker: nothing was accepted

    const rescuer = await startWorkers({ config: { ...config, LOG_LEVEL: "silent" }, logger: createLogger({ level: "silent" }), channels: ["email"] });
    cleanups.push(() => rescuer.close());
    const mails = await smtp.waitForMails(5, 25_000);
    expect(mails.map((m) => m.envelope.to[0]).sort()).toEqual([
      "user0@example.com",
      "user1@example.com",
      "user2@example.com",
      "user3@example.com",
      "user4@example.com",
    ]);
    expect(smtp.mails).toHaveLength(5);
    expect(await rescuer.deadLetters.count()).toBe(0);
  });
});
