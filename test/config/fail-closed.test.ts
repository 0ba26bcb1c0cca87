import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, unknownVariables } from "../../src/config/index.js";
import { createLogger } from "../../src/logger.js";
import { Herald } from "../../src/queues/producer.js";
import { KEY_FILE } from "../../src/secrets/key.js";
import { startWorkers } from "../../src/workers/start.js";
import { Redis } from "ioredis";
import { deleteKeys, REDIS_URL, testEnv } from "../support/herald.js";

const logger = createLogger({ level: "silent" });
const used: string[] = [];
afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  for (const prefix of used) await deleteKeys(redis, prefix);
  redis.disconnect();
});
/** testEnv without the explicit outbox choice: what an operator who set no provider has. */
const noProviders = (extra: Record<string, string | undefined> = {}) => testEnv({ HERALD_EMAIL_CHANNEL: undefined, HERALD_SMS_CHANNEL: undefined, ...extra });

describe("providers: no silent outbox outside development", () => {
  it("a worker without SMTP_URL refuses to start, naming SMTP_URL and the explicit outbox", async () => {
    const config = loadConfig(noProviders());
    expect(config.emailChannel).toBeUndefined();
    await expect(startWorkers({ config, logger, channels: ["email"] })).rejects.toThrow(ConfigError);
    await expect(startWorkers({ config, logger, channels: ["email"] })).rejects.toThrow(/SMTP_URL is not set.*HERALD_EMAIL_CHANNEL=outbox/);
  });

  it("a worker without Twilio settings refuses to start, naming TWILIO_ACCOUNT_SID", async () => {
    const config = loadConfig(noProviders({ HERALD_EMAIL_CHANNEL: "outbox" }));
    await expect(startWorkers({ config, logger })).rejects.toThrow(/TWILIO_ACCOUNT_SID is not set.*HERALD_SMS_CHANNEL=outbox/);
  });

  it("a worker of one channel needs only that channel's provider", async () => {
    const config = loadConfig(noProviders({ HERALD_EMAIL_CHANNEL: "outbox" }));
    used.push(config.HERALD_PREFIX);
    const workers = await startWorkers({ config, logger, channels: ["email"] });
    expect(workers.workers.map((w) => w.name)).toEqual(["email"]);
    await workers.close();
  });

  it("the outbox is the default only with HERALD_DEV=1, or when chosen", () => {
    expect(loadConfig(noProviders({ HERALD_DEV: "1" }))).toMatchObject({ emailChannel: "outbox", smsChannel: "outbox" });
    expect(loadConfig(noProviders({ HERALD_EMAIL_CHANNEL: "outbox", HERALD_SMS_CHANNEL: "outbox" }))).toMatchObject({
      emailChannel: "outbox",
      smsChannel: "outbox",
    });
  });
});

describe("encryption key: no generated key outside development", () => {
  it("the SDK without HERALD_ENCRYPTION_KEY throws naming it, and writes no key file", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "herald-nokey-"));
    const saved = { key: process.env.HERALD_ENCRYPTION_KEY, keys: process.env.HERALD_ENCRYPTION_KEYS, dev: process.env.HERALD_DEV };
    delete process.env.HERALD_ENCRYPTION_KEY;
    delete process.env.HERALD_ENCRYPTION_KEYS;
    delete process.env.HERALD_DEV;
    try {
      expect(() => new Herald({ redis: "redis://127.0.0.1:6379", dataDir })).toThrow(/HERALD_ENCRYPTION_KEY is not set/);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      Object.assign(
        process.env,
        Object.fromEntries(
          Object.entries({ HERALD_ENCRYPTION_KEY: saved.key, HERALD_ENCRYPTION_KEYS: saved.keys, HERALD_DEV: saved.dev }).filter(([, v]) => v !== undefined),
        ),
      );
    }
  });

  it("the worker without HERALD_ENCRYPTION_KEY refuses to start, naming it, and writes no key file", async () => {
    const config = loadConfig(testEnv({ HERALD_ENCRYPTION_KEY: undefined }));
    await expect(startWorkers({ config, logger })).rejects.toThrow(/HERALD_ENCRYPTION_KEY is not set/);
    expect(existsSync(join(config.HERALD_DATA_DIR, KEY_FILE))).toBe(false);
  });

  it("with HERALD_DEV=1 the SDK and the worker share the generated dev key file", async () => {
    const config = loadConfig(testEnv({ HERALD_ENCRYPTION_KEY: undefined, HERALD_DEV: "1" }));
    used.push(config.HERALD_PREFIX);
    const workers = await startWorkers({ config, logger, channels: ["email"] });
    const herald = new Herald({ redis: config.REDIS_URL, prefix: config.HERALD_PREFIX, dataDir: config.HERALD_DATA_DIR, dev: true, onWarning: () => {} });
    const delivered = new Promise((resolve) => workers.events.once("delivered", (_job, result) => resolve(result)));
    await herald.emailVerification({ recipient: { userId: "u", email: "dev@example.com" }, code: "DEV-1", url: "https://x.test/v" });
    expect(await delivered).toMatchObject({ provider: "outbox" });
    expect(existsSync(join(config.HERALD_DATA_DIR, KEY_FILE))).toBe(true);
    await herald.close();
    await workers.close();
  });

  it("a malformed key or key list stops start-up naming the variable, never echoing the key", () => {
    expect(() => loadConfig(testEnv({ HERALD_ENCRYPTION_KEY: "c2hvcnQ=" }))).toThrow(/HERALD_ENCRYPTION_KEY must be 32 bytes/);
    expect(() => loadConfig(testEnv({ HERALD_ENCRYPTION_KEY: undefined, HERALD_ENCRYPTION_KEYS: "no-colon-here" }))).toThrow(
      /HERALD_ENCRYPTION_KEYS entry 1 must be kid:base64key/,
    );
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(() => loadConfig(testEnv({ HERALD_ENCRYPTION_KEYS: `a:${key}` }))).toThrow(/not both/);
    const twice = () => loadConfig(testEnv({ HERALD_ENCRYPTION_KEY: undefined, HERALD_ENCRYPTION_KEYS: `a:${key},a:${key}` }));
    expect(twice).toThrow(/names key id a twice/);
    try {
      twice();
    } catch (error) {
      expect((error as Error).message).not.toContain(key);
    }
  });
});

describe("misspelled HERALD_* variables", () => {
  it("are an error outside development, with the closest real name", () => {
    expect(() => loadConfig(testEnv({ HERALD_ATEMPTS: "3" }))).toThrow(/HERALD_ATEMPTS is not a Herald setting; did you mean HERALD_ATTEMPTS\?/);
  });

  it("are warnings with HERALD_DEV=1; a name close to nothing gets no suggestion; the suite's own variables pass", () => {
    const config = loadConfig(testEnv({ HERALD_DEV: "1", HERALD_EMAIL_CONCURENCY: "3", HERALD_WHATEVER_THIS_IS: "1", HERALD_CHROMIUM: "/usr/bin/chromium" }));
    expect(config.warnings).toEqual([
      "HERALD_EMAIL_CONCURENCY is not a Herald setting; did you mean HERALD_EMAIL_CONCURRENCY?",
      "HERALD_WHATEVER_THIS_IS is not a Herald setting",
    ]);
    expect(unknownVariables({ HERALD_ENCRYPTION_KEY: "x", PATH: "/bin" })).toEqual([]);
  });
});

describe("SMTP settings", () => {
  it("SMTP_FROM must be an address with an optional display name", () => {
    const smtp = (from: string) => () => loadConfig(testEnv({ SMTP_URL: "smtp://127.0.0.1:2525", SMTP_FROM: from }));
    expect(smtp("not-an-address")).toThrow(/SMTP_FROM must be an address with an optional display name/);
    expect(smtp("Acme <not an address>")).toThrow(/SMTP_FROM/);
    expect(smtp("Acme no-reply@acme.test")).toThrow(/SMTP_FROM/);
    for (const good of ["no-reply@acme.test", "Acme ID <no-reply@acme.test>", '"Acme, Inc." <no-reply@acme.test>', "<no-reply@acme.test>"]) {
      expect(smtp(good)().SMTP_FROM, good).toBe(good);
    }
  });

  it("SMTP_REQUIRE_TLS is on by default, off with HERALD_DEV=1, and can be set either way", () => {
    expect(loadConfig(testEnv({ SMTP_REQUIRE_TLS: undefined })).smtpRequireTls).toBe(true);
    expect(loadConfig(testEnv({ HERALD_DEV: "1" })).smtpRequireTls).toBe(false);
    expect(loadConfig(testEnv({ SMTP_REQUIRE_TLS: "0" })).smtpRequireTls).toBe(false);
    expect(loadConfig(testEnv({ HERALD_DEV: "1", SMTP_REQUIRE_TLS: "1" })).smtpRequireTls).toBe(true);
  });

  it("REDIS_URL's path may only be a database number", () => {
    expect(() => loadConfig(testEnv({ REDIS_URL: "redis://127.0.0.1:6379/queues" }))).toThrow(/REDIS_URL: the path may only be a database number/);
    expect(loadConfig(testEnv({ REDIS_URL: "redis://127.0.0.1:6379/3" })).REDIS_URL).toBe("redis://127.0.0.1:6379/3");
  });
});
