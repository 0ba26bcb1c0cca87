import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { deleteKeys, testEnv } from "../support/herald.js";

const job = { recipient: { userId: "u1", email: "ada@example.com" }, code: "CLI-CODE-1", url: "https://login.example.com/r" };

// Each CLI call is a fresh Node process (about a second, more on a busy machine): generous time limits.
describe("herald CLI", { timeout: 180_000 }, () => {
  const env = testEnv();
  const redis = new Redis(env.REDIS_URL);
  const email = new Queue("email", { connection: redis, prefix: env.HERALD_PREFIX });
  afterAll(async () => {
    await email.close();
    await deleteKeys(redis, env.HERALD_PREFIX);
    redis.disconnect();
  });

  it("send prints the job id and the job is queued", async () => {
    const result = await runCli(["send", "password-reset", "--data", JSON.stringify(job)], env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const id = result.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await email.getJob(id))?.name).toBe("password-reset");
  });

  it("send takes the new kinds: a security notice (no code; its time filled in) and an invitation", async () => {
    const notice = { recipient: { userId: "u2", email: "gus@example.com", timeZone: "Europe/Rome" }, factor: "u2f", change: "removed" };
    const invite = {
      recipient: { userId: "u3", email: "finn@example.com" },
      inviter: { displayName: "Grace Hopper" },
      url: "https://login.example.com/invite",
    };
    const [mfa, inv, bad] = await Promise.all([
      runCli(["send", "mfa-changed", "--data", JSON.stringify(notice), "--json"], env),
      runCli(["send", "invite-user", "--data", JSON.stringify(invite)], env),
      runCli(["send", "password-changed", "--data", JSON.stringify({ ...job, url: undefined })], env),
    ]);
    expect(mfa.code, mfa.stderr).toBe(0);
    const queued = await email.getJob(JSON.parse(mfa.stdout).id);
    expect(queued?.name).toBe("mfa-changed");
    expect(Date.now() - Date.parse(queued?.data.job.occurredAt)).toBeLessThan(120_000);
    expect(inv.code, inv.stderr).toBe(0);
    expect((await email.getJob(inv.stdout.trim()))?.name).toBe("invite-user");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("code: is not allowed");
  });

  it("send reads --data-file - from standard input and can answer in JSON", async () => {
    const result = await runCli(["send", "email-verification", "--data-file", "-", "--json"], env, JSON.stringify({ ...job, idempotencyKey: "k1" }));
    expect(result.code).toBe(0);
    const first = JSON.parse(result.stdout);
    expect(first).toMatchObject({ channel: "email", deduplicated: false });
    const again = await runCli(["send", "email-verification", "--data", JSON.stringify({ ...job, idempotencyKey: "k1" }), "--json"], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: first.id, deduplicated: true, status: "queued" });
  });

  it("a repeated idempotencyKey answers the first job's current state, not 'queued'", async () => {
    const own = testEnv();
    const data = JSON.stringify({ ...job, idempotencyKey: "k-done" });
    const first = JSON.parse((await runCli(["send", "email-verification", "--data", data, "--json"], own)).stdout);
    // A worker of the test's own takes the job and reports it delivered, as Herald's would.
    const connection = new Redis(own.REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker("email", async () => ({ provider: "smtp", messageId: "<m@x>", acceptedAt: new Date().toISOString() }), {
      connection,
      prefix: own.HERALD_PREFIX,
    });
    try {
      await new Promise<void>((resolve) => worker.on("completed", () => resolve()));
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const json = await runCli(["send", "email-verification", "--data", data, "--json"], own);
    expect(JSON.parse(json.stdout)).toEqual({ id: first.id, channel: "email", deduplicated: true, status: "delivered" });
    const plain = await runCli(["send", "email-verification", "--data", data], own);
    expect(plain.stdout.trim()).toBe(first.id);
    expect(plain.stderr).toMatch(new RegExp(`job ${first.id} is delivered; nothing new was queued`));
    await deleteKeys(redis, own.HERALD_PREFIX);
  });

  it("after a replay, status of the original id shows the new job (not 'unknown')", async () => {
    const dl = new DeadLetters(redis, env.HERALD_PREFIX);
    const original = "00000000-0000-4000-8000-00000000abcd";
    await dl.add({
      kind: "password-reset",
      queue: "email",
      originalJobId: original,
      data: { v: 1, kind: "password-reset", job: {}, sealed: "x", enqueuedAt: 0 },
      attempts: 3,
      failureClass: "transient-exhausted",
      reason: "smtp: 421 try later",
      failedAt: new Date().toISOString(),
    });
    const replayed = await runCli(["dlq", "replay", `email-${original}`], env);
    const newId = /as job ([0-9a-f-]{36})/.exec(replayed.stdout)![1];
    const status = await runCli(["status", original, "--json"], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: newId, originalId: original, status: "queued", kind: "password-reset", channel: "email" });
    const table = await runCli(["status", original], env);
    expect(table.stdout).toMatch(new RegExp(`originalId\\s+${original}`));
    // Replayed twice: the second says it was already replayed, and as which job.
    const again = await runCli(["dlq", "replay", `email-${original}`], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`dead letter email-${original} was already replayed, as job ${newId}`);
    expect((await runCli(["dlq", "replay", "email-never-there"], env)).stderr).toContain("no dead letter email-never-there (removed, or never there)");
    await dl.close();
  });

  it("--version prints the package version", async () => {
    const result = await runCli(["--version"], env);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("bad option values are usage errors: exit 2, nothing done", async () => {
    const cases = [
      ["dlq", "list", "--since", "yesterday"],
      ["dlq", "list", "--class", "nosuch"],
      ["dlq", "list", "--kind", "nosuch"],
      ["dlq", "list", "--limit", "0"],
      ["dlq", "purge", "--since", "yesterday"],
      ["dlq", "replay", "--class", "nosuch"],
      ["dlq", "nosuch"],
      ["queues", "--nosuch"],
      ["worker", "--queues", "fax"],
      // Replay and purge refuse "nothing" (it is not "everything"), and an id with filters.
      ["dlq", "replay"],
      ["dlq", "purge"],
      ["dlq", "replay", "email-orig-2", "--kind", "password-reset"],
      ["dlq", "purge", "email-orig-2", "--class", "permanent"],
    ];
    // Side by side: each is a process of its own, and none touches Redis.
    const results = await Promise.all(cases.map((args) => runCli(args, env)));
    cases.forEach((args, i) => {
      expect(results[i]!.code, args.join(" ")).toBe(2);
      expect(results[i]!.stderr, args.join(" ")).toMatch(/^error: /);
      expect(results[i]!.stdout, args.join(" ")).toBe("");
    });
    for (const verb of ["replay", "purge"]) {
      expect(results[cases.findIndex((c) => c.join(" ") === `dlq ${verb}`)]!.stderr).toMatch(
        /needs a dead-letter id, a filter \(--kind, --class, --since\), or --all/,
      );
    }
  });

  it("send with bad input exits 2, names every field, enqueues nothing", async () => {
    const before = await email.getWaitingCount();
    const result = await runCli(["send", "password-reset", "--data", JSON.stringify({ recipient: { email: "x" }, code: "" })], env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("recipient.userId: is required");
    expect(result.stderr).toContain("recipient.email: must be a valid email address");
    expect(result.stderr).toContain("code: must not be empty");
    expect(result.stderr).toContain("url: is required (or give urlTemplate)");
    expect(await email.getWaitingCount()).toBe(before);
  });

  it("send rejects an unknown kind, broken JSON and a missing --data", async () => {
    expect((await runCli(["send", "newsletter", "--data", "{}"], env)).stderr).toMatch(/kind: is unknown; expected one of resend-initialization/);
    const broken = await runCli(["send", "password-reset", "--data", "{nope"], env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid JSON/);
    expect((await runCli(["send", "password-reset"], env)).stderr).toMatch(/--data/);
  });

  it("a bad configuration value stops the command and names the variable", async () => {
    const result = await runCli(["send", "password-reset", "--data", JSON.stringify(job)], { ...env, HERALD_ATTEMPTS: "many", SMTP_URL: "http://mail" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HERALD_ATTEMPTS must be a whole number/);
    expect(result.stderr).toMatch(/SMTP_URL must be a URL with scheme smtp or smtps/);
  });

  it("dlq list, show, replay and purge", async () => {
    const dead = new Queue("dead-letter", { connection: redis, prefix: env.HERALD_PREFIX });
    const letter = (n: number, failureClass: string) => ({
      kind: "password-reset",
      queue: "email",
      originalJobId: `orig-${n}`,
      data: { v: 1, kind: "password-reset", job: { recipient: { userId: "u", email: "secret-person@example.com" } }, sealed: "v1.xxx", enqueuedAt: 0 },
      attempts: 1,
      failureClass,
      reason: "smtp: 550 mailbox unavailable",
      code: "smtp-550",
      failedAt: new Date(Date.now() - n * 1000).toISOString(),
    });
    for (let n = 1; n <= 3; n++) await dead.add("password-reset", letter(n, n === 3 ? "expired" : "permanent"), { jobId: `email-orig-${n}` });

    const table = await runCli(["dlq", "list"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/email-orig-1\s+password-reset\s+permanent/);
    expect(table.stdout).not.toContain("secret-person@example.com");

    const json = await runCli(["dlq", "list", "--json", "--class", "expired"], env);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(["email-orig-3"]);
    expect(lines[0]).not.toHaveProperty("data");

    const shown = await runCli(["dlq", "show", "email-orig-2"], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: "email-orig-2", failureClass: "permanent", reason: "smtp: 550 mailbox unavailable" });
    expect((await runCli(["dlq", "show", "nope"], env)).code).toBe(2);
    const bogus = await runCli(["dlq", "list", "--class", "bogus"], env);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/'bogus' is invalid\. Allowed choices are permanent, transient-exhausted, invalid, expired/);

    const waitingBefore = await email.getWaitingCount();
    const replayed = await runCli(["dlq", "replay", "email-orig-1"], env);
    expect(replayed.stdout).toMatch(/replayed email-orig-1 as job [0-9a-f-]{36}/);
    expect(await email.getWaitingCount()).toBe(waitingBefore + 1);

    // Replay and purge follow one rule: an id, or a filter (--all not needed), or --all; nothing at all is refused.
    const all = await runCli(["dlq", "replay", "--class", "expired"], env);
    expect(all.stdout.trim()).toBe("replayed 1 dead letter(s)");
    // (Nothing at all, or an id with filters, is refused: see "bad option values".)
    const purged = await runCli(["dlq", "purge", "--all"], env);
    expect(purged.stdout.trim()).toBe("purged 1 dead letter(s)");
    expect(await dead.getWaitingCount()).toBe(0);
    await dead.close();
  });
});

describe("herald start", { timeout: 60_000 }, () => {
  it("refuses to start with a bad setting and names it", async () => {
    const result = await runCli(["start"], testEnv({ SMTP_URL: "smtp://mail.example.com", SMTP_FROM: undefined, TWILIO_ACCOUNT_SID: "AC" + "0".repeat(32) }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/SMTP_FROM is required with SMTP/);
    expect(result.stderr).toMatch(/TWILIO_AUTH_TOKEN is required/);
    expect(result.stderr).toMatch(/exactly one of TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID/);
  });

  it("a broken template override stops start-up before any job is taken, naming the file and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-templates-"));
    writeFileSync(join(dir, "password-reset.mjml"), '<mj-text>ok</mj-text>\n<mj-text colour="red">{{t.text}}</mj-text>\n');
    const result = await runCli(["worker"], testEnv({ HERALD_TEMPLATES_DIR: dir }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/password-reset\.mjml line 2: Attribute colour is illegal/);
  });

  it("says clearly when an explicit REDIS_URL does not answer", async () => {
    const result = await runCli(["worker"], testEnv({ REDIS_URL: "redis://127.0.0.1:1" }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no Redis answers at 127\.0\.0\.1:1 \(REDIS_URL\)/);
  });
});
