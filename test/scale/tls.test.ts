import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis } from "../../src/cli/redis.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis, redisAnswers, redisTarget } from "../../src/queues/connection.js";
import { Herald } from "../../src/queues/producer.js";
import { startWorkers } from "../../src/workers/start.js";
import { runCli } from "../support/cli.js";
import { testEnv } from "../support/herald.js";
import { type RedisClusterProcesses, type RedisSentinelProcesses, startRedisCluster, startRedisSentinels } from "../support/redis-cluster.js";
import { type RedisProcess, startRedisServer } from "../support/redis-server.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { makeTestCa, type TestCa } from "../support/tls-certs.js";

describe("Redis over TLS: a CA made in the test, rediss:// and REDIS_TLS_CA_FILE", () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let redis: RedisProcess;
  let wrongHost: RedisProcess;
  let smtp: SmtpTestServer;

  beforeAll(async () => {
    ca = makeTestCa();
    otherCa = makeTestCa("Somebody Else's CA");
    const good = ca.issue("redis", "IP:127.0.0.1,DNS:localhost");
    const elsewhere = ca.issue("elsewhere", "DNS:redis.elsewhere.test");
    [redis, wrongHost, smtp] = await Promise.all([
      startRedisServer({ tls: { ...good, ca: ca.ca } }),
      startRedisServer({ tls: { ...elsewhere, ca: ca.ca } }),
      startSmtpServer(),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([redis?.stop(), wrongHost?.stop(), smtp?.close()]);
    for (const dir of [ca?.dir, otherCa?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("enqueues and delivers through a TLS-only Redis, verifying it with the CA", async () => {
    expect(redis.url).toMatch(/^rediss:/);
    const config = loadConfig(testEnv({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: ca.ca, SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" }));
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    const connection = createRedis(redisTarget(config), "producer");
    const herald = new Herald({ redis: connection, prefix: config.HERALD_PREFIX, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    try {
      const { id } = await herald.emailVerification({
        recipient: { userId: "u1", email: "ada@example.com" },
        code: "TLS123",
        url: "https://login.example.com/verify",
      });
      const [mail] = await smtp.waitForMails(1);
      expect(mail!.parsed.text).toContain("TLS123");
      expect(await workers.deadLetters.count()).toBe(0);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      // The server listens with TLS only: a clear-text client gets no answer there.
      expect(await redisAnswers(redis.url.replace("rediss:", "redis:"), 1000)).toBe(false);
    } finally {
      await herald.close();
      connection.disconnect();
      await workers.close();
    }
  }, 60_000);

  it("refuses a server whose certificate another CA signed, naming REDIS_URL and the reason", async () => {
    const config = loadConfig(testEnv({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: otherCa.ca }));
    const error = await connectRedis(redisTarget(config), 2000).then(
      (client) => {
        client.disconnect();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/REDIS_URL=rediss:\/\/127\.0\.0\.1:\d+ does not answer/);
    expect(error?.message).toMatch(/self-signed certificate in certificate chain\): its TLS certificate was refused; check REDIS_TLS_CA_FILE/);
  });

  it("herald worker stops at start with that reason, not a bare 'no Redis answers'", async () => {
    const result = await runCli(["worker"], testEnv({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: otherCa.ca }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/its TLS certificate was refused; check REDIS_TLS_CA_FILE/);
  }, 60_000);

  it("refuses a server whose certificate names another host", async () => {
    const config = loadConfig(testEnv({ REDIS_URL: wrongHost.url, REDIS_TLS_CA_FILE: ca.ca }));
    const error = await connectRedis(redisTarget(config), 2000).then(
      (client) => {
        client.disconnect();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/does not match certificate's altnames/i);
    expect(error?.message).toMatch(/the certificate names the host in REDIS_URL/);
  });

  it("stops start-up naming the variable: an unreadable CA file, a CA file without TLS, a certificate without its key", () => {
    expect(() => loadConfig(testEnv({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" }))).toThrow(
      /REDIS_TLS_CA_FILE: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/,
    );
    expect(() => loadConfig(testEnv({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_TLS_CA_FILE: ca.ca }))).toThrow(
      /REDIS_TLS_CA_FILE set but the connection to Redis is not TLS/,
    );
    expect(() => loadConfig(testEnv({ REDIS_URL: redis.url, REDIS_TLS_CERT_FILE: ca.ca }))).toThrow(ConfigError);
    expect(() => loadConfig(testEnv({ REDIS_URL: redis.url, REDIS_TLS_CERT_FILE: ca.ca }))).toThrow(/REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together/);
    expect(() => loadConfig(testEnv({ REDIS_SENTINELS: "127.0.0.1:26379" }))).toThrow(/REDIS_SENTINEL_NAME is required/);
    expect(() => loadConfig(testEnv({ REDIS_CLUSTER_NODES: "127.0.0.1" }))).toThrow(/REDIS_CLUSTER_NODES must be a comma-separated list of host:port/);
  });
});

describe("Redis Cluster over TLS (REDIS_CLUSTER_NODES + REDIS_TLS=1 + REDIS_TLS_CA_FILE)", () => {
  let ca: TestCa;
  let cluster: RedisClusterProcesses;
  let smtp: SmtpTestServer;

  beforeAll(async () => {
    ca = makeTestCa();
    const server = ca.issue("node", "IP:127.0.0.1,DNS:localhost");
    [cluster, smtp] = await Promise.all([startRedisCluster({ tls: { ...server, ca: ca.ca } }), startSmtpServer()]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([cluster?.stop(), smtp?.close()]);
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  it("enqueues over three shards and delivers through TLS-only nodes; without REDIS_TLS the nodes do not answer", async () => {
    const base = { REDIS_CLUSTER_NODES: cluster.seeds, HERALD_SHARDS: "3", SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>" };
    const config = loadConfig(testEnv({ ...base, REDIS_TLS: "1", REDIS_TLS_CA_FILE: ca.ca, HERALD_REPLICAS_ACK: "1" }));
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    const connection = createRedis(redisTarget(config), "producer");
    const herald = new Herald({ redis: connection, prefix: config.HERALD_PREFIX, shards: 3, replicasAck: 1, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    try {
      for (const [i, email] of ["ada@example.com", "dan@example.com", "eve@example.com"].entries()) {
        await herald.emailVerification({ recipient: { userId: `u${i}`, email }, code: `TLSC${i}`, url: "https://login.example.com/verify" });
      }
      const mails = await smtp.waitForMails(3, 30_000);
      expect(mails.map((m) => /TLSC\d/.exec(m.parsed.text ?? "")?.[0]).sort()).toEqual(["TLSC0", "TLSC1", "TLSC2"]);
    } finally {
      await herald.close();
      connection.disconnect();
      await workers.close();
    }
    const plain = redisTarget(loadConfig(testEnv(base)));
    await expect(connectRedis(plain, 1500)).rejects.toThrow(/REDIS_CLUSTER_NODES=127\.0\.0\.1:\d+,.* does not answer/);
  }, 90_000);
});

describe("Sentinel over TLS (REDIS_SENTINELS + REDIS_TLS=1 + REDIS_TLS_CA_FILE)", () => {
  let ca: TestCa;
  let topology: RedisSentinelProcesses;
  let smtp: SmtpTestServer;

  beforeAll(async () => {
    ca = makeTestCa();
    const server = ca.issue("node", "IP:127.0.0.1,DNS:localhost");
    [topology, smtp] = await Promise.all([startRedisSentinels("herald-tls", { tls: { ...server, ca: ca.ca } }), startSmtpServer()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([topology?.stop(), smtp?.close()]);
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  it("asks the sentinels over TLS, connects to the master over TLS, enqueues (replicated) and delivers", async () => {
    const config = loadConfig(
      testEnv({
        REDIS_SENTINELS: topology.sentinelList,
        REDIS_SENTINEL_NAME: topology.name,
        REDIS_TLS: "1",
        REDIS_TLS_CA_FILE: ca.ca,
        HERALD_REPLICAS_ACK: "1",
        SMTP_URL: smtp.url,
        SMTP_FROM: "Acme <no-reply@acme.test>",
      }),
    );
    const workers = await startWorkers({ config, logger: createLogger({ level: "silent" }), channels: ["email"] });
    const connection = createRedis(redisTarget(config), "producer");
    const herald = new Herald({ redis: connection, prefix: config.HERALD_PREFIX, replicasAck: 1, encryptionKey: config.HERALD_ENCRYPTION_KEY });
    try {
      await herald.emailVerification({ recipient: { userId: "u1", email: "ada@example.com" }, code: "TLSS01", url: "https://login.example.com/verify" });
      const [mail] = await smtp.waitForMails(1, 30_000);
      expect(mail!.parsed.text).toContain("TLSS01");
    } finally {
      await herald.close();
      connection.disconnect();
      await workers.close();
    }
  }, 60_000);
});
