import { randomBytes } from "node:crypto";
import { Queue, UnrecoverableError, type Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providersFromConfig } from "../../src/channels/index.js";
import { loadConfig } from "../../src/config/index.js";
import { parseJob } from "../../src/contracts/index.js";
import { ExpiredJobError, InvalidJobError, PermanentDeliveryError, TransientDeliveryError, readFailure } from "../../src/errors/index.js";
import { createLogger } from "../../src/logger.js";
import { createRedis } from "../../src/queues/connection.js";
import { DeadLetters } from "../../src/queues/dead-letter.js";
import { toEnvelope } from "../../src/queues/envelope.js";
import { loadRenderer } from "../../src/templates/load.js";
import { DeadLetterMover } from "../../src/workers/dead-letter-mover.js";
import { createDeliveryWorker } from "../../src/workers/delivery-worker.js";
import { startSmtpServer, type SmtpTestServer } from "../support/smtp-server.js";
import { deleteKeys, testEnv } from "../support/herald.js";

// A worker with no mover attached fails the jobs (as if the process that would have moved them died);
// a fresh mover's sweep must file them exactly as the live path would, from what Redis kept.
describe("dead-letter class and code after a restart", () => {
  let smtp: SmtpTestServer;
  const env = testEnv();
  const config = loadConfig(env);
  const connection = createRedis(config.REDIS_URL, "worker");
  const logger = createLogger({ level: "silent" });
  let email: Queue;
  const ids = { decrypt: "", contract: "", permanent: "" };

  beforeAll(async () => {
    smtp = await startSmtpServer();
    smtp.rejectFor("gone@example.com", { code: 550, message: "5.1.1 <gone@example.com>: no such user" });
    const key = Buffer.from(config.HERALD_ENCRYPTION_KEY!, "base64");
    const channels = providersFromConfig(
      loadConfig({ ...env, HERALD_EMAIL_CHANNEL: "smtp", SMTP_URL: smtp.url, SMTP_FROM: "Acme <no-reply@acme.test>", SMTP_REQUIRE_TLS: "0" }),
    );
    const worker = createDeliveryWorker(
      "email",
      { key, renderer: await loadRenderer(config), ...channels },
      { connection, prefix: config.HERALD_PREFIX, concurrency: 1, lockMs: 30_000, stalledIntervalMs: 30_000, logger },
    );
    email = new Queue("email", { connection, prefix: config.HERALD_PREFIX });
    const job = (address: string) => parseJob("email-verification", { recipient: { userId: "u", email: address }, code: "SECRET-1", url: "https://x.test/v" });
    const failed = new Map<string, Job>();
    const allFailed = new Promise<void>((resolve) =>
      worker.on("failed", (j) => {
        if (j?.finishedOn) failed.set(j.id!, j);
        if (failed.size === 3) resolve();
      }),
    );
    ids.decrypt = (await email.add("email-verification", toEnvelope("email-verification", job("a@example.com"), randomBytes(32)), { attempts: 3 })).id!;
    ids.contract = (
      await email.add(
        "email-verification",
        toEnvelope("email-verification", { ...job("a@example.com"), recipient: { userId: "u", email: "nope" } } as never, key),
        { attempts: 3 },
      )
    ).id!;
    ids.permanent = (await email.add("email-verification", toEnvelope("email-verification", job("gone@example.com"), key), { attempts: 3 })).id!;
    void worker.run();
    await allFailed;
    await worker.close();
    await channels.email.close();
    await channels.sms.close();
  });
  afterAll(async () => {
    await email?.close();
    await deleteKeys(connection, config.HERALD_PREFIX);
    await connection.quit();
    await smtp?.close();
  });

  it("a fresh mover's sweep files a decrypt failure as invalid (code decrypt), not permanent; each keeps its code and an untagged reason", async () => {
    const deadLetters = new DeadLetters(connection, config.HERALD_PREFIX);
    const moved: [string, string, string | undefined][] = [];
    const mover = new DeadLetterMover(deadLetters, logger, (job, failureClass, code) => moved.push([job.id!, failureClass, code]));
    expect(await mover.sweep(email)).toBe(3);
    await mover.close();
    const letter = async (id: string) => (await deadLetters.get(`email-${id}`))!;
    expect(await letter(ids.decrypt)).toMatchObject({ failureClass: "invalid", code: "decrypt", attempts: 1 });
    expect((await letter(ids.decrypt)).reason).toMatch(/^[^[]/);
    expect((await letter(ids.decrypt)).reason).toMatch(/HERALD_ENCRYPTION_KEY/);
    expect(await letter(ids.contract)).toMatchObject({ failureClass: "invalid", code: "contract" });
    expect((await letter(ids.contract)).reason).toMatch(/recipient\.email/);
    expect(await letter(ids.permanent)).toMatchObject({ failureClass: "permanent", code: "smtp-550" });
    expect((await letter(ids.permanent)).reason).not.toContain("gone@example.com");
    expect(moved.map(([, c, code]) => `${c}/${code}`).sort()).toEqual(["invalid/contract", "invalid/decrypt", "permanent/smtp-550"]);
    expect(await email.getFailedCount()).toBe(0);
    await deadLetters.close();
  });
});

describe("Herald's errors", () => {
  it("keep their own names and still end a job at once in BullMQ (instanceof UnrecoverableError)", () => {
    for (const [error, name] of [
      [new InvalidJobError("x", "decrypt"), "InvalidJobError"],
      [new ExpiredJobError("x"), "ExpiredJobError"],
      [new PermanentDeliveryError("x", "smtp-550"), "PermanentDeliveryError"],
    ] as const) {
      expect(error.name).toBe(name);
      expect(error).toBeInstanceOf(UnrecoverableError);
      expect(String(error.stack)).toMatch(new RegExp(`^${name}: `));
    }
    expect(new TransientDeliveryError("x", "ECONNREFUSED")).not.toBeInstanceOf(UnrecoverableError);
  });

  it("readFailure reads back what the errors recorded, and falls back for BullMQ's own reasons", () => {
    expect(readFailure(new PermanentDeliveryError("smtp: 550 no", "smtp-550").message, false)).toEqual({
      failureClass: "permanent",
      code: "smtp-550",
      reason: "smtp: 550 no",
    });
    expect(readFailure(new TransientDeliveryError("smtp: 451 later", "smtp-451").message, true)).toEqual({
      failureClass: "transient-exhausted",
      code: "smtp-451",
      reason: "smtp: 451 later",
    });
    expect(readFailure(new ExpiredJobError("the code expired").message, false)).toEqual({ failureClass: "expired", reason: "the code expired" });
    expect(readFailure(new PermanentDeliveryError("x", "we ird/code").message, false).code).toBe("we_ird_code");
    expect(readFailure("job stalled more than allowable limit", false)).toEqual({
      failureClass: "transient-exhausted",
      reason: "job stalled more than allowable limit",
    });
    expect(readFailure(undefined, true).failureClass).toBe("transient-exhausted");
  });
});
