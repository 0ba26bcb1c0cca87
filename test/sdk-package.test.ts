import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, deleteKeys, uniquePrefix } from "./support/herald.js";

// The promise a producer service is made: installing the SDK costs a couple of dozen packages, not the
// service's hundreds (MJML, Twilio, Fastify…), and its types hold under `strict`. So the real package is
// packed, installed from its tarball into an empty project, type-checked and run, as another team would.

const ROOT = resolve(import.meta.dirname, "..");
const SDK_DIR = join(ROOT, "packages/sdk");
const MAX_PACKAGES = 30;
const MAX_BYTES = 45 * 1024 * 1024;
/** Where every SDK file comes from in src/: contracts, queues, secrets, errors, the producer's config slice, tracing through the OpenTelemetry API, and the entry itself. */
const SDK_AREAS = ["index", "contracts", "queues", "secrets", "errors", "redact", "config", "telemetry"];
const SERVICE_ONLY = [
  "mjml",
  "nodemailer",
  "twilio",
  "fastify",
  "handlebars",
  "html-to-text",
  "pino",
  "@bull-board/api",
  "commander",
  "prom-client",
  "@opentelemetry/sdk-trace-node",
  "@opentelemetry/sdk-trace-base",
  "@opentelemetry/exporter-trace-otlp-http",
];

const run = promisify(execFile);
// Under `npm test`, npm exports its run's settings (npm_config_local_prefix=<this repo>, …): the npm
// started here must act on the temporary project alone, so only where the cache and config live is kept.
const KEPT_NPM_SETTINGS = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig", "npm_config_registry", "npm_config_cafile"]);
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) || KEPT_NPM_SETTINGS.has(name.toLowerCase())));

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, {
      cwd,
      env: { ...childEnv, npm_config_update_notifier: "false", ...env },
      timeout: 150_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}\n${e.stderr ?? e.message}`);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Bytes on disk (what `du` counts), symlinks not followed. */
function diskBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const path = join(dir, e.name);
    const own = lstatSync(path).blocks * 512;
    return sum + own + (e.isDirectory() ? diskBytes(path) : 0);
  }, lstatSync(dir).blocks * 512);
}

function installedPackages(project: string): string[] {
  const lock = JSON.parse(readFileSync(join(project, "node_modules/.package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages)
    .filter((key) => key.startsWith("node_modules/"))
    .map((key) => key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length));
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const root = readJson(join(ROOT, "package.json"));
const sdk = readJson(join(SDK_DIR, "package.json"));

const PRODUCER = `import { Herald, ValidationError, type EnqueueResult, type KindName } from "herald-sdk";

const herald = new Herald({ redis: process.env.REDIS_URL, prefix: process.env.HERALD_PREFIX, encryptionKey: process.env.KEY });
const sent: EnqueueResult = await herald.passwordReset({
  recipient: { userId: "u-1", email: "ada@example.com", locale: "fr" },
  code: "K7Q-44P",
  url: "https://login.example.com/reset?code=K7Q-44P",
  idempotencyKey: "reset-u-1",
});
const kind: KindName = sent.kind;

let rejected: string[] = [];
try {
  await herald.emailVerification({ recipient: { userId: "u-2", email: "not-an-address" }, code: "1234", url: "https://id.test/verify" });
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  rejected = error.issues.map((issue) => issue.field);
}
await herald.close();
process.stdout.write(JSON.stringify({ id: sent.id, kind, channel: sent.channel, rejected }));

// Never called: proves the types reject wrong jobs (an unused @ts-expect-error is itself an error).
export function wrongJobs(h: Herald) {
  // @ts-expect-error userId is a string
  void h.phoneVerification({ recipient: { userId: 42, phone: "+41791234567" }, code: "1" });
  // @ts-expect-error a phone verification has no link
  void h.phoneVerification({ recipient: { userId: "u", phone: "+41791234567" }, code: "1", url: "https://id.test" });
  // @ts-expect-error there is no such kind
  void h.enqueue("welcome-mail", {});
}
`;

describe("herald-sdk: the producer-only package", () => {
  let work: string;
  let unpacked: string;
  let project: string;
  let producerInstall: { packages: string[]; bytes: number };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "herald-sdk-"));
    // `npm pack` runs the package's prepack, i.e. scripts/build-sdk.mjs: the tarball is built fresh.
    await sh("npm", ["pack", "--pack-destination", work], SDK_DIR);
    const tarballs = readdirSync(work).filter((f) => f.endsWith(".tgz"));
    expect(tarballs).toEqual([`herald-sdk-${sdk.version}.tgz`]);
    const tarball = join(work, tarballs[0]!);

    unpacked = join(work, "unpacked");
    mkdirSync(unpacked);
    await sh("tar", ["-xzf", tarball, "-C", unpacked], work);

    project = join(work, "producer");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "producer", version: "1.0.0", private: true, type: "module" }));
    const npmInstall = ["install", "--prefer-offline", "--no-audit", "--no-fund"];
    await sh("npm", [...npmInstall, tarball], project);
    producerInstall = { packages: installedPackages(project), bytes: diskBytes(join(project, "node_modules")) };
    // The test's own tools, added after the producer's install was measured.
    await sh(
      "npm",
      [...npmInstall, "--save-dev", `typescript@${root.devDependencies.typescript}`, `@types/node@${root.devDependencies["@types/node"]}`],
      project,
    );
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("is publishable: not private, MIT, ESM with types, Node >=20.19, same version as the service", () => {
    expect(sdk.private).toBeUndefined();
    expect(root.private).toBeUndefined();
    expect(sdk).toMatchObject({ name: "herald-sdk", license: "MIT", type: "module", engines: { node: ">=20.19" } });
    expect(sdk.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    expect(sdk.version).toBe(root.version);
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toContain("*.tgz");
  });

  it("the service's build, published as `herald`, emits no source map without its sources either", async () => {
    const { compilerOptions } = JSON.parse(
      await sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--showConfig"], ROOT),
    );
    expect(compilerOptions.sourceMap !== true || compilerOptions.inlineSources === true).toBe(true);
    expect(root.files).not.toContain("src");
  });

  it("ships only the compiled SDK (no service code), and every source map carries its sources", () => {
    const files = filesUnder(join(unpacked, "package")).map((f) => relative(join(unpacked, "package"), f));
    expect(files).toEqual(expect.arrayContaining(["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/queues/producer.js"]));
    for (const file of files.filter((f) => f !== "package.json" && f !== "README.md")) {
      expect(file, "only dist/ is published").toMatch(/^dist\//);
      expect(SDK_AREAS, file).toContain(file.slice("dist/".length).split(/[/.]/)[0]);
    }
    const maps = files.filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    for (const map of maps) {
      const { sources, sourcesContent } = readJson(join(unpacked, "package", map));
      expect(sourcesContent?.length, map).toBe(sources.length);
      for (const content of sourcesContent) expect(content.length, map).toBeGreaterThan(0);
    }
  });

  it(`installs alone in at most ${MAX_PACKAGES} packages and ${MAX_BYTES / 1024 / 1024} MB, none of the service's`, () => {
    const { packages, bytes } = producerInstall;
    console.log(`herald-sdk install: ${packages.length} packages, ${(bytes / 1024 / 1024).toFixed(1)} MB on disk`);
    expect(packages).toEqual(expect.arrayContaining(["herald-sdk", "bullmq", "ioredis", "zod", "libphonenumber-js"]));
    expect(packages.length).toBeLessThanOrEqual(MAX_PACKAGES);
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES);
    for (const heavy of SERVICE_ONLY) expect(packages).not.toContain(heavy);
  });

  it("a producer type-checks against it under strict (NodeNext), then enqueues on the real Redis and catches ValidationError", async () => {
    writeFileSync(join(project, "producer.ts"), PRODUCER);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          types: ["node"],
          skipLibCheck: false,
          outDir: "out",
        },
        files: ["producer.ts"],
      }),
    );
    await sh(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", "."], project);

    const prefix = uniquePrefix();
    const redis = new Redis(REDIS_URL);
    try {
      const out = await sh(process.execPath, ["out/producer.js"], project, { REDIS_URL, HERALD_PREFIX: prefix, KEY: randomBytes(32).toString("base64") });
      const result = JSON.parse(out) as { id: string; kind: string; channel: string; rejected: string[] };
      expect(result).toMatchObject({ kind: "password-reset", channel: "email", rejected: ["recipient.email"] });
      const job = await redis.hgetall(`${prefix}:email:${result.id}`);
      expect(job.name).toBe("password-reset");
      expect(job.data).toContain("ada@example.com");
      expect(job.data).not.toContain("K7Q-44P"); // the code was sealed by the installed SDK
      expect(await redis.llen(`${prefix}:email:wait`), "the rejected job was not enqueued").toBe(1);
    } finally {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  }, 120_000);
});
