import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

// No Docker engine runs here, so the compose file's shape is checked rather than assumed.
describe("docker-compose.yml", () => {
  const compose = parse(readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8"));

  it("runs Redis 7 with AOF persistence and noeviction", () => {
    const redis = compose.services.redis;
    expect(redis.image).toMatch(/^redis:7/);
    const command = redis.command.join(" ");
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes.join(" ")).toMatch(/:\/data$/);
  });

  it("has Mailpit and Herald built from the Dockerfile, wired to both", () => {
    expect(compose.services.mailpit.image).toMatch(/^axllent\/mailpit/);
    const herald = compose.services.herald;
    expect(herald.build).toBe(".");
    expect(herald.environment.REDIS_URL).toBe("redis://redis:6379");
    expect(herald.environment.SMTP_URL).toBe("smtp://mailpit:1025");
    expect(herald.depends_on.redis.condition).toBe("service_healthy");
    expect(Object.keys(herald.environment)).toEqual(expect.arrayContaining(["HERALD_ENCRYPTION_KEY", "SMTP_FROM", "HERALD_API_TOKENS"]));
  });

  it("every variable the compose file sets is one Herald reads", async () => {
    const { CONFIG_VARIABLES } = await import("../src/config.js");
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(Object.keys(compose.services.herald.environment)));
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(resolve(ROOT, "Dockerfile"), "utf8");
  it("builds with npm ci and the build script, and runs `herald start` as a non-root user", () => {
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/CMD \["start"\]/);
    const nodeMajor = Number(/FROM node:(\d+)/.exec(dockerfile)![1]);
    expect(nodeMajor).toBeGreaterThanOrEqual(20);
  });
});
