import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startService, type Service } from "../../src/cli/service.js";
import { loadConfig } from "../../src/config/index.js";
import { KIND_NAMES, kindDefinition, type KindName } from "../../src/contracts/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis, redisTarget, type RedisClient } from "../../src/queues/connection.js";
import { hashSlot, shardOf, shardPrefix, recipientKey } from "../../src/queues/names.js";
import { Herald } from "../../src/queues/producer.js";
import { sampleJob } from "../../src/templates/samples.js";
import { ADMIN_TOKEN, TOKENS } from "../support/harness.js";
import { runCli } from "../support/cli.js";
import { testEnv } from "../support/herald.js";
import { onNode, startRedisCluster, type RedisClusterProcesses } from "../support/redis-cluster.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { startTwilioServer, type TwilioServer, twilioEnv } from "../support/twilio-server.js";

const SHARDS = 3;
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("Redis Cluster (3 masters, 3 replicas) with HERALD_SHARDS=3: the service as a tenant of a real Cluster", () => {
  let cluster: RedisClusterProcesses;
  let smtp: SmtpTestServer;
  let twilio: TwilioServer;
  let service: Service;
  let herald: Herald;
  let producer: RedisClient;
  let prefix: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [cluster, smtp, twilio] = await Promise.all([startRedisCluster(), startSmtpServer(), startTwilioServer()]);
    env = testEnv({
      REDIS_CLUSTER_NODES: cluster.seeds,
      HERALD_SHARDS: String(SHARDS),
      HERALD_REPLICAS_ACK: "1",
      SMTP_URL: smtp.url,
      SMTP_FROM: "Acme <no-reply@acme.test>",
      ...twilioEnv(twilio),
      HERALD_API_TOKENS: TOKENS,
      HERALD_HTTP_PORT: "0",
      HERALD_HTTP_HOST: "127.0.0.1",
      HERALD_ATTEMPTS: "2",
    });
    const config = loadConfig(env);
    prefix = config.HERALD_PREFIX;
    service = await startService({ config, logger: createLogger({ level: "silent" }), redisExplicit: true, workers: true, http: true });
    producer = createRedis(redisTarget(config), "producer");
    herald = new Herald({ redis: producer, prefix, shards: SHARDS, replicasAck: 1, encryptionKey: config.HERALD_ENCRYPTION_KEY });
  }, 90_000);

  afterAll(async () => {
    await herald?.close();
    producer?.disconnect();
    await service?.close();
    await Promise.all([cluster?.stop(), smtp?.close(), twilio?.close()]);
  }, 60_000);

  it("delivers every kind end to end, over shards on all three masters, with status, metrics and replay seeing one queue", async () => {
    // One job per kind, then more until every shard of each channel holds at least one.
    const jobs: { kind: KindName; job: Record<string, unknown> }[] = KIND_NAMES.map((kind, i) => ({ kind, job: withRecipient(sampleJob(kind), i) }));
    const covered = () =>
      new Set(jobs.map(({ kind, job }) => `${channelOfSample(kind, job)}:${shardOf(recipientKey(channelOfSample(kind, job), job as never), SHARDS)}`));
    for (let i = jobs.length; covered().size < 2 * SHARDS; i++) {
      jobs.push({ kind: "email-verification", job: withRecipient(sampleJob("email-verification"), i) });
      jobs.push({ kind: "phone-verification", job: withRecipient(sampleJob("phone-verification"), i) });
    }
    const results: Awaited<ReturnType<Herald["enqueue"]>>[] = [];
    for (const { kind, job } of jobs) results.push(await herald.enqueue(kind, job as never));
    const emails = results.filter((r) => r.channel === "email").length;
    const sms = results.length - emails;
    await smtp.waitForMails(emails, 30_000);
    await twilio.waitForMessages(sms);
    expect(smtp.mails).toHaveLength(emails);
    expect(twilio.messages).toHaveLength(sms);

    // Status by id through the API, whichever shard holds the job.
    await vi.waitFor(
      async () => {
        for (const { id } of results) {
          const res = await fetch(`${service.url}/v1/notifications/${id}`, { headers: auth });
          expect(res.status, id).toBe(200);
          expect(((await res.json()) as { status: string }).status, id).toBe("delivered");
        }
      },
      { timeout: 15_000, interval: 200 },
    );

    // The queue keys sit on every master: each shard's hash tag on the master serving its slot.
    const tags = Array.from({ length: SHARDS }, (_, i) => shardPrefix(prefix, i, SHARDS));
    const holders = new Set<number>();
    for (const master of await cluster.masters()) {
      const keys = await onNode(master.port, async (c) => {
        const found: string[] = [];
        let cursor = "0";
        do {
          const [next, batch] = await c.scan(cursor, "MATCH", `${prefix.slice(0, -1)}*`, "COUNT", "1000");
          cursor = next;
          found.push(...batch);
        } while (cursor !== "0");
        return found;
      });
      const onThis = tags.filter((tag) => keys.some((k) => k.startsWith(`${tag}:email:`) || k.startsWith(`${tag}:sms:`)));
      if (onThis.length > 0) holders.add(master.port);
      for (const tag of onThis) {
        const slot = Number(await onNode(master.port, (c) => c.cluster("KEYSLOT", tag)));
        expect(hashSlot(tag)).toBe(slot); // Herald's slot arithmetic agrees with the Cluster's
        expect((await cluster.masterOf(slot)).port).toBe(master.port);
      }
    }
    expect(holders.size).toBe(3);

    // Metrics add the shards up: every delivery counted under its channel's queue.
    const metrics = await (await fetch(`${service.url}/metrics`, { headers: auth })).text();
    expect(metrics).toContain(`herald_queue_jobs{queue="email",state="completed"} ${emails}`);
    expect(metrics).toContain(`herald_queue_jobs{queue="sms",state="completed"} ${sms}`);

    // A dead letter from a shard goes back to that shard on replay, and its old id leads to the new job.
    // A policy refusal (5.7.1): permanent, but not a bounce that would suppress the address and stop the replay.
    smtp.replyNext({ code: 550, message: "5.7.1 refused by policy" });
    const failed = await herald.enqueue("email-verification", withRecipient(sampleJob("email-verification"), 999) as never);
    const letter = await vi.waitFor(
      async () => {
        const res = await fetch(`${service.url}/v1/notifications/${failed.id}`, { headers: auth });
        const body = (await res.json()) as { status: string; deadLetterId?: string };
        if (body.status !== "dead-lettered") throw new Error(body.status);
        return body.deadLetterId!;
      },
      { timeout: 20_000, interval: 200 },
    );
    const replay = await fetch(`${service.url}/v1/dead-letters/${letter}/replay`, { method: "POST", headers: auth });
    expect(replay.status).toBe(202);
    const replayed = await vi.waitFor(
      async () => {
        const body = (await (await fetch(`${service.url}/v1/notifications/${failed.id}`, { headers: auth })).json()) as {
          id: string;
          status: string;
          originalId?: string;
        };
        expect(body).toMatchObject({ status: "delivered", originalId: failed.id });
        return body.id;
      },
      { timeout: 20_000, interval: 200 },
    );
    // Replays go to the unsharded queue, which workers work whatever HERALD_SHARDS is later set to.
    const queue = new Queue("email", { connection: producer, prefix });
    try {
      expect(await queue.getJob(replayed)).toBeDefined();
    } finally {
      await queue.close();
    }
  }, 90_000);

  it("the SDK and the CLI find the Cluster from the environment alone (REDIS_CLUSTER_NODES, HERALD_SHARDS)", async () => {
    vi.stubEnv("REDIS_CLUSTER_NODES", cluster.seeds);
    vi.stubEnv("HERALD_SHARDS", String(SHARDS));
    const fromEnv = new Herald({ prefix, encryptionKey: env.HERALD_ENCRYPTION_KEY });
    try {
      expect(fromEnv.shards).toBe(SHARDS);
      const { id } = await fromEnv.emailVerification({
        recipient: { userId: "env", email: "env@example.com" },
        code: "ENV123",
        url: "https://login.example.com/verify",
      });
      const mail = await vi.waitFor(() => {
        const found = smtp.mails.find((m) => m.parsed.text?.includes("ENV123"));
        if (!found) throw new Error("not delivered yet");
        return found;
      });
      expect(mail.envelope.to).toEqual(["env@example.com"]);
      const cli = await runCli(["status", id, "--json"], { ...env, REDIS_URL: "redis://127.0.0.1:1" });
      expect(cli.stderr).toBe("");
      expect(JSON.parse(cli.stdout)).toMatchObject({ id, status: "delivered" });
    } finally {
      await fromEnv.close();
      vi.unstubAllEnvs();
    }
  }, 60_000);
});

function channelOfSample(kind: KindName, job: Record<string, unknown>) {
  return kindDefinition(kind).channelOf(job as never);
}

function withRecipient(job: Record<string, unknown>, i: number, email = `user${i}@example.com`): Record<string, unknown> {
  const recipient = job.recipient as Record<string, unknown>;
  return { ...job, recipient: { ...recipient, userId: `u${i}`, email, phone: `+1201555${String(100 + (i % 100)).padStart(4, "0")}` } };
}

describe("a Cluster or Sentinel that does not answer stops start-up, naming the variable", () => {
  it("herald worker exits 1 within seconds instead of waiting for ever", async () => {
    const [cluster, sentinel] = await Promise.all([
      runCli(["worker"], testEnv({ REDIS_CLUSTER_NODES: "127.0.0.1:1,127.0.0.1:2" })),
      runCli(["worker"], testEnv({ REDIS_SENTINELS: "127.0.0.1:1", REDIS_SENTINEL_NAME: "mymaster" })),
    ]);
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toMatch(/Redis at REDIS_CLUSTER_NODES=127\.0\.0\.1:1,127\.0\.0\.1:2 does not answer .*check REDIS_CLUSTER_NODES/);
    expect(sentinel.code).toBe(1);
    expect(sentinel.stderr).toMatch(/Redis at REDIS_SENTINELS=127\.0\.0\.1:1 \(REDIS_SENTINEL_NAME=mymaster\) does not answer .*check REDIS_SENTINELS/);
  }, 60_000);
});
