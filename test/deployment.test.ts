import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { posix, resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(resolve(ROOT, file), "utf8");

/** The Dockerfile as instructions (continuation lines joined, comments dropped), split into build stages. */
function dockerStages(text: string): { instruction: string; args: string }[][] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages: { instruction: string; args: string }[][] = [];
  for (const line of lines) {
    const [instruction = "", ...rest] = line.split(/\s+/);
    if (instruction.toUpperCase() === "FROM") stages.push([]);
    stages.at(-1)?.push({ instruction: instruction.toUpperCase(), args: rest.join(" ") });
  }
  return stages;
}

// No Docker engine runs here, so the compose file's shape is checked rather than assumed.
describe("docker-compose.yml", () => {
  const compose = parse(read("docker-compose.yml"));

  it("runs Redis 7 with AOF persistence and noeviction, and the README says what everysec risks", () => {
    const redis = compose.services.redis;
    expect(redis.image).toMatch(/^redis:7/);
    const command = redis.command.join(" ");
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes.join(" ")).toMatch(/:\/data$/);
    expect(command).toMatch(/--appendfsync everysec/);
    expect(read("README.md")).toMatch(/appendfsync everysec[\s\S]*?1 s[\s\S]*?appendfsync always/);
  });

  it("has Mailpit (a pinned version) and Herald built from the Dockerfile, wired to both", () => {
    expect(compose.services.mailpit.image).toMatch(/^axllent\/mailpit:v\d+\.\d+\.\d+$/);
    const herald = compose.services.herald;
    expect(herald.build).toBe(".");
    expect(herald.environment.REDIS_URL).toBe("redis://redis:6379");
    expect(herald.environment.SMTP_URL).toBe("smtp://mailpit:1025");
    expect(herald.depends_on.redis.condition).toBe("service_healthy");
    expect(herald.depends_on.mailpit.condition).toBe("service_healthy");
    expect(Object.keys(herald.environment)).toEqual(expect.arrayContaining(["HERALD_ENCRYPTION_KEY", "SMTP_FROM", "HERALD_API_TOKENS"]));
  });

  it("every service has a health check; Bull Board is read-only", () => {
    for (const [name, service] of Object.entries(compose.services as Record<string, { healthcheck?: { test: string[] } }>)) {
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(1);
    }
    expect(compose.services.herald.environment.HERALD_BOARD_READONLY).toBe("1");
  });

  it("publishes nothing (the API and its /metrics included) beyond the host's loopback", () => {
    for (const [name, service] of Object.entries(compose.services as Record<string, { ports?: string[] }>)) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it("every variable the compose file sets is one Herald reads, and the set is a valid configuration", () => {
    const environment = compose.services.herald.environment as Record<string, string>;
    const resolved = Object.fromEntries(
      Object.entries(environment).map(([k, v]) => [
        k,
        k === "HERALD_ENCRYPTION_KEY"
          ? Buffer.alloc(32, 1).toString("base64")
          : k === "HERALD_API_TOKENS"
            ? "admin:0123456789abcdef0123,enqueue:abcdef0123456789abcd,metrics:0123abcd0123abcd0123"
            : v,
      ]),
    );
    const config = loadConfig(resolved);
    // Mail goes to Mailpit, SMS to the outbox on purpose: neither falls back silently.
    expect(config).toMatchObject({ emailChannel: "smtp", smsChannel: "outbox", smtpRequireTls: false, HERALD_DEV: false, HERALD_BOARD_READONLY: true });
  });
});

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile");
  const stages = dockerStages(dockerfile);
  const final = stages.at(-1)!;
  const args = (instruction: string) => final.filter((i) => i.instruction === instruction).map((i) => i.args);

  it("builds with npm ci and the build script, and runs `herald start` as a non-root user", () => {
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/CMD \["start"\]/);
    const nodeMajor = Number(/FROM node:(\d+)/.exec(dockerfile)![1]);
    expect(nodeMajor).toBeGreaterThanOrEqual(20);
  });

  it("the runtime user owns the outbox and data folders Herald writes by default (before USER switches to it)", () => {
    const workdir = args("WORKDIR").at(-1)!;
    const user = args("USER").at(-1)!;
    expect(user).not.toBe("root");
    const defaults = loadConfig({ HERALD_DEV: "1" });
    const userIndex = final.findIndex((i) => i.instruction === "USER");
    const runs = final
      .slice(0, userIndex)
      .filter((i) => i.instruction === "RUN")
      .map((i) => i.args);
    for (const dir of [defaults.HERALD_OUTBOX_DIR, defaults.HERALD_DATA_DIR].map((d) => posix.resolve(workdir, d))) {
      expect(
        runs.some((r) => /mkdir -p/.test(r) && r.includes(dir)),
        `mkdir ${dir}`,
      ).toBe(true);
      expect(
        runs.some((r) => new RegExp(`chown ${user}(:${user})? [^&]*${dir.replace(/\./g, "\\.")}(\\s|$)`).test(r)),
        `chown ${dir}`,
      ).toBe(true);
    }
  });

  it("has a health check that the image carries", () => {
    const check = args("HEALTHCHECK");
    expect(check).toHaveLength(1);
    expect(check[0]).toMatch(/CMD \["node", "bin\/healthcheck\.js"\]/);
    expect(args("COPY")).toContain("bin ./bin");
  });

  it("the health check passes on 200 from /healthz and fails otherwise", async () => {
    let status = 200;
    const server = createServer((request, response) => response.writeHead(request.url === "/healthz" ? status : 404).end()).listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = String((server.address() as AddressInfo).port);
    const run = async (env: Record<string, string>, argv: string[] = []) => {
      const child = spawn(process.execPath, [resolve(ROOT, "bin/healthcheck.js"), ...argv], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "ignore" });
      return (await once(child, "exit"))[0];
    };
    try {
      expect(await run({ HERALD_HTTP_PORT: port })).toBe(0);
      expect(await run({}, [port])).toBe(0);
      status = 503;
      expect(await run({ HERALD_HTTP_PORT: port })).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe(".dockerignore", () => {
  const ignored = read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  it("keeps dependencies, the dev key, the outbox and packed tarballs out of the build context", () => {
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", ".herald", "outbox", "*.tgz"]));
  });

  it("ignores nothing the Dockerfile copies", () => {
    const sources = dockerStages(read("Dockerfile"))
      .flat()
      .filter((i) => i.instruction === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(ignored, source).not.toContain(source.replace(/^\.\//, ""));
  });
});

describe("docker-compose.yml, profile cluster", () => {
  const compose = parse(read("docker-compose.yml"));
  const services = compose.services as Record<
    string,
    { profiles?: string[]; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }> }
  >;
  const nodes = Object.keys(services).filter((name) => /^redis-node-\d$/.test(name));

  it("six Redis 7 nodes in Cluster mode with AOF and noeviction, joined by a one-shot redis-cli --cluster create with one replica each", () => {
    expect(nodes).toHaveLength(6);
    for (const name of nodes) {
      const command = services[name]!.command!.join(" ");
      expect(services[name]!.profiles, name).toEqual(["cluster"]);
      expect(command, name).toMatch(/--cluster-enabled yes/);
      expect(command, name).toMatch(/--appendonly yes/);
      expect(command, name).toMatch(/--maxmemory-policy noeviction/);
    }
    const init = services["redis-cluster-init"]!;
    const script = init.command!.join(" ");
    expect(script).toMatch(/redis-cli --cluster create/);
    expect(script).toMatch(/--cluster-replicas 1 --cluster-yes/);
    for (const name of nodes) {
      expect(script).toContain(`${name}:6379`);
      expect(init.depends_on?.[name]?.condition).toBe("service_healthy");
    }
  });

  it("a Herald on the Cluster, sharded over its masters, with replicated acknowledgements: a valid configuration", () => {
    const herald = services["herald-cluster"]!;
    expect(herald.profiles).toEqual(["cluster"]);
    expect(herald.depends_on?.["redis-cluster-init"]?.condition).toBe("service_completed_successfully");
    const environment = herald.environment!;
    expect(environment.REDIS_CLUSTER_NODES!.split(",").sort()).toEqual(nodes.map((n) => `${n}:6379`).sort());
    const resolved = {
      ...environment,
      HERALD_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64"),
      HERALD_API_TOKENS: "admin:0123456789abcdef0123,enqueue:abcdef0123456789abcd,metrics:0123abcd0123abcd0123",
    };
    expect(loadConfig(resolved)).toMatchObject({ HERALD_SHARDS: 3, HERALD_REPLICAS_ACK: 1, emailChannel: "smtp" });
  });
});
