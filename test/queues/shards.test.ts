import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveryPrefixes, hashSlot, recipientKey, shardOf, shardPrefix, shardPrefixes } from "../../src/queues/names.js";
import { Herald } from "../../src/queues/producer.js";
import { lookupStatus } from "../../src/queues/status.js";
import { runCli } from "../support/cli.js";
import { ADMIN_TOKEN, startApiHarness } from "../support/harness.js";
import { startTestHerald, type TestHerald } from "../support/herald.js";

describe("shard names and the choice of shard", () => {
  it("one shard keeps the prefix itself (today's key names); more put the shard number into the hash tag, one slice of the slots each", () => {
    expect(shardPrefixes("{herald}", 1)).toEqual(["{herald}"]);
    const three = shardPrefixes("{herald}", 3);
    three.forEach((prefix, i) => {
      expect(prefix).toMatch(new RegExp(`^\\{herald:${i}(:\\d+)?\\}$`));
      // Shard i's slot lies in the i-th third of the 16384 slots: on three equal masters, one shard each.
      expect(Math.floor((hashSlot(prefix) * 3) / 16_384)).toBe(i);
    });
    expect(three).toEqual(["{herald:0:2}", "{herald:1:3}", "{herald:2:2}"]); // the same in every process, for ever
    expect(shardPrefix("{acme}:notify", 2, 4)).toMatch(/^\{acme:2(:\d+)?\}:notify$/);
    expect(Math.floor((hashSlot(shardPrefix("{acme}:notify", 2, 4)) * 4) / 16_384)).toBe(2);
    // Sharded workers also work the unsharded queues, so jobs from before sharding are delivered.
    expect(deliveryPrefixes("{herald}", 1)).toEqual(["{herald}"]);
    expect(deliveryPrefixes("{herald}", 3)).toEqual([...three, "{herald}"]);
  });

  it("computes slots as Redis Cluster does (the specification's examples)", () => {
    expect(hashSlot("foo")).toBe(12_182);
    expect(hashSlot("123456789")).toBe(0x31c3);
    expect(hashSlot("{user1000}.following")).toBe(hashSlot("{user1000}.followers"));
    expect(hashSlot("{user1000}.following")).toBe(3443);
  });

  it("a recipient's shard is stable (SHA-256 of the channel's address), case-insensitive for email, and spread evenly", () => {
    expect(shardOf(recipientKey("email", { recipient: { email: "ada@example.com" } }), 3)).toBe(2);
    expect(shardOf(recipientKey("email", { recipient: { email: " ADA@Example.com " } }), 3)).toBe(2);
    expect(shardOf(recipientKey("email", { recipient: { email: "bob@example.com" } }), 3)).toBe(shardOf("email:bob@example.com", 3));
    expect(shardOf("anything", 1)).toBe(0);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardOf(recipientKey("sms", { recipient: { phone: `+4179${String(i).padStart(7, "0")}` } }), 3)]!++;
    for (const n of counts) expect(n).toBeGreaterThan(850);
  });
});

describe("HERALD_SHARDS raised from 1 to 3 on a live queue: no migration", () => {
  let h: TestHerald;
  let sharded: Herald;

  beforeAll(async () => {
    // The workers run with 3 shards; the harness's producer still has the default, 1.
    h = await startTestHerald({ HERALD_SHARDS: "3" });
    sharded = new Herald({ redis: h.config.REDIS_URL, prefix: h.config.HERALD_PREFIX, shards: 3, encryptionKey: h.config.HERALD_ENCRYPTION_KEY });
  });
  afterAll(async () => {
    await sharded?.close();
    await h?.close();
  });

  it("delivers jobs queued before (unsharded) and after (sharded); status, and the CLI's queue counts, see every shard", async () => {
    const job = (email: string) => ({ recipient: { userId: "u1", email }, code: "123456", url: "https://login.example.com/verify" });
    const before = await h.herald.emailVerification(job("ada@example.com"));
    const after = await Promise.all(["ada@example.com", "dan@example.com", "eve@example.com"].map((email) => sharded.emailVerification(job(email))));
    const delivered = new Set<string>();
    for (let i = 0; i < 4; i++) delivered.add((await h.nextDelivery()).job.id!);
    expect(delivered).toEqual(new Set([before.id, ...after.map((r) => r.id)]));

    // Each sharded job sits under its recipient's shard; the old one under the prefix itself.
    const prefix = h.config.HERALD_PREFIX;
    const queues = deliveryPrefixes(prefix, 3).map((p) => new Queue("email", { connection: h.redis, prefix: p }));
    try {
      expect(await h.redis.exists(`${prefix}:email:${before.id}`)).toBe(1);
      // ada → shard 2, dan → 1, eve → 0 (the stable hash above).
      for (const [i, shard] of [2, 1, 0].entries()) expect(await h.redis.exists(`${shardPrefix(prefix, shard, 3)}:email:${after[i]!.id}`)).toBe(1);
      for (const { id } of [before, ...after]) {
        expect((await lookupStatus(id, { queues, deadLetters: h.workers.deadLetters, connection: h.redis }))?.status).toBe("delivered");
      }
    } finally {
      await Promise.all(queues.map((q) => q.close()));
    }
    const cli = await runCli(["queues", "--json"], h.env);
    expect(cli.stderr).toBe("");
    expect(JSON.parse(cli.stdout).email.completed).toBe(4);
  }, 60_000);
});

describe("Bull Board with HERALD_SHARDS=3", () => {
  it("lists each shard of a queue as its own entry, email #0 … #2, beside the unsharded queues and the dead letters", async () => {
    const h = await startApiHarness({ workers: false, server: { shards: 3 } });
    try {
      const res = await h.app.inject({
        method: "GET",
        url: "/admin/queues/api/queues?page=1&jobsPerPage=1",
        headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` },
      });
      expect(res.statusCode).toBe(200);
      const queues = (res.json() as { queues: { name: string; displayName?: string }[] }).queues;
      const shown = queues.map((q) => q.displayName || q.name).sort();
      expect(shown).toEqual(["dead-letter", "email", "email #0", "email #1", "email #2", "sms", "sms #0", "sms #1", "sms #2"]);
      expect(new Set(queues.map((q) => q.name)).size).toBe(queues.length);
    } finally {
      await h.close();
    }
  });
});
