import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { WEBHOOK_DEAD_LETTER_QUEUE, WEBHOOK_QUEUE } from "../../src/queues/names.js";
import { newSecret } from "../../src/webhooks/standard-webhooks.js";
import { runCli } from "../support/cli.js";
import { deleteKeys, testEnv } from "../support/herald.js";

describe("herald webhooks: endpoints, dead letters, replay", { timeout: 120_000 }, () => {
  const secret = newSecret();
  const env = testEnv({
    HERALD_WEBHOOKS: JSON.stringify([{ id: "crm", url: "https://crm.example.com/hooks", events: ["notification.accepted"], secrets: [secret] }]),
  });
  const redis = new Redis(env.REDIS_URL ?? "");
  const prefix = env.HERALD_PREFIX ?? "";
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it("lists endpoints without their secrets, lists and replays webhook dead letters, and refuses a replay with nothing selected", async () => {
    const dead = new Queue(WEBHOOK_DEAD_LETTER_QUEUE, { connection: redis, prefix });
    const event = { type: "notification.accepted", timestamp: new Date().toISOString(), data: { id: "n-1", times: {} } };
    await dead.add(
      "notification.accepted",
      {
        endpointId: "crm",
        messageId: "msg_1",
        event,
        url: "https://crm.example.com/hooks",
        attempts: 12,
        reason: "answered HTTP 503",
        failedAt: new Date().toISOString(),
      },
      { jobId: "msg_1-crm" },
    );
    await dead.close();

    const [endpoints, letters, nothing] = await Promise.all([
      runCli(["webhooks", "endpoints", "--json"], env),
      runCli(["webhooks", "dead-letters"], env),
      runCli(["webhooks", "replay"], env),
    ]);
    expect(endpoints.code).toBe(0);
    expect(JSON.parse(endpoints.stdout)).toEqual([{ id: "crm", url: "https://crm.example.com/hooks", events: ["notification.accepted"], secrets: 1 }]);
    expect(endpoints.stdout).not.toContain(secret.slice(6));
    expect(letters.code).toBe(0);
    expect(letters.stdout).toMatch(/msg_1-crm\s+crm\s+notification\.accepted\s+n-1\s+12 .*answered HTTP 503/);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/needs a webhook dead-letter id or --all/);

    const replayed = await runCli(["webhooks", "replay", "msg_1-crm"], env);
    expect(replayed.stdout).toBe("replayed msg_1-crm\n");
    const webhooks = new Queue(WEBHOOK_QUEUE, { connection: redis, prefix });
    const job = await webhooks.getJob("msg_1-crm");
    await webhooks.close();
    expect(job?.data).toMatchObject({ endpointId: "crm", messageId: "msg_1", event: { data: { id: "n-1" } } });
    expect(job?.opts.attempts).toBe(12);
  });
});
