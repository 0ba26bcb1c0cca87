import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

/**
 * The layer order of the README (producer → contract → queue → worker → renderer → provider), as the
 * areas of src/ each area may import. An area not named here fails the test until it is placed.
 * Leaves first: they import none of Herald's other parts.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  contracts: [],
  errors: [],
  redact: [],
  secrets: [],
  // Standard Webhooks signing: pure crypto, shared by the HTTP provider, delivery events and adapters.
  webhooks: [],
  // webhooks: the HTTP provider's whsec_ secrets and the webhook endpoints' are checked at start like every
  // other setting; contracts: the event types endpoints subscribe to.
  config: ["contracts", "secrets", "webhooks"],
  // OpenTelemetry through its API only (the SDK and exporter are loaded by the CLI when asked for).
  telemetry: [],
  logger: ["redact", "telemetry"],
  queues: ["config", "contracts", "errors", "redact", "secrets", "telemetry"],
  // Templates are pure: they render and send nothing, and know no queue.
  templates: ["config", "contracts"],
  // Providers send what they are given and know no queue, template or job.
  channels: ["config", "webhooks"],
  metrics: ["contracts", "errors", "logger", "queues"],
  workers: ["channels", "config", "contracts", "errors", "logger", "queues", "redact", "secrets", "telemetry", "templates", "webhooks"],
  http: ["config", "contracts", "errors", "logger", "metrics", "queues", "redact", "templates", "webhooks"],
  cli: [
    "channels",
    "config",
    "contracts",
    "errors",
    "http",
    "logger",
    "metrics",
    "queues",
    "redact",
    "secrets",
    "telemetry",
    "templates",
    "webhooks",
    "workers",
  ],
  // The producer SDK's entry.
  index: ["config", "contracts", "errors", "queues", "secrets", "telemetry"],
};

/** Every module specifier in a file: static and type-only imports, re-exports, side-effect and dynamic imports. */
function specifiers(file: string): string[] {
  const source = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|(^|[^:"'`])\/\/.*$/gm, "$1");
  const found = [
    ...source.matchAll(/(?:^|[\s;])(?:import|export)\s+(?:type\s+)?[^;"'`]*?\sfrom\s*["']([^"']+)["']/g),
    ...source.matchAll(/(?:^|[\s;])import\s*["']([^"']+)["']/g),
    ...source.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g),
  ];
  return found.map((m) => m[1]!);
}

function importsOf(file: string): { local: string[]; packages: string[] } {
  const all = specifiers(file);
  const local = all.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  const packages = all
    .filter((s) => !s.startsWith(".") && !s.startsWith("node:"))
    .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!));
  return { local, packages };
}

function filesIn(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesIn(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** `src/queues/producer.ts` → queues; `src/logger.ts` → logger. */
const area = (file: string) => relative(SRC, file).split("/")[0]!.replace(/\.ts$/, "");

/** Every file and package reachable from an entry, type imports included. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const { local, packages: pkgs } = importsOf(file);
    for (const p of pkgs) packages.add(p);
    for (const l of local) visit(l);
  };
  visit(entry);
  return { files, packages };
}

const ALL = filesIn(SRC);

describe("imports point down the flow, over the whole graph (type imports included)", () => {
  it("sees the imports it should (sanity: type-only, re-exports and dynamic imports are found)", () => {
    const found = new Set(ALL.flatMap((f) => importsOf(f).local.map((l) => `${relative(SRC, f)} → ${relative(SRC, l)}`)));
    expect(found).toContain("cli/main.ts → cli/service.ts"); // dynamic
    expect(found).toContain("index.ts → queues/producer.ts"); // re-export
    expect([...found].some((edge) => edge.startsWith("workers/pipeline.ts → channels/provider.ts"))).toBe(true); // import type
    for (const f of ALL) for (const l of importsOf(f).local) expect(ALL, `${relative(SRC, f)} imports a file that does not exist`).toContain(l);
  });

  it("every area of src/ has a place in the layer order", () => {
    expect([...new Set(ALL.map(area))].filter((a) => !(a in MAY_IMPORT))).toEqual([]);
  });

  it("no file imports an area above its own", () => {
    const wrong = ALL.flatMap((file) =>
      importsOf(file)
        .local.filter((target) => area(target) !== area(file) && !(MAY_IMPORT[area(file)] ?? []).includes(area(target)))
        .map((target) => `${relative(SRC, file)} → ${relative(SRC, target)}`),
    );
    expect(wrong).toEqual([]);
  });

  it("the producer SDK reaches no worker, template, provider, HTTP or CLI code, nor their packages", () => {
    const { files, packages } = closure(join(SRC, "index.ts"));
    const areas = new Set([...files].map(area));
    for (const forbidden of ["workers", "templates", "channels", "http", "cli", "metrics", "logger"]) expect(areas).not.toContain(forbidden);
    // Of the configuration, only the producer's slice (not the service's schema with DKIM and HTTP).
    expect(
      [...files]
        .filter((f) => area(f) === "config")
        .map((f) => relative(SRC, f))
        .sort(),
    ).toEqual(["config/defaults.ts", "config/env.ts", "config/producer.ts", "config/redis.ts"]);
    for (const heavy of [
      "mjml",
      "nodemailer",
      "twilio",
      "handlebars",
      "html-to-text",
      "fastify",
      "pino",
      "prom-client",
      "commander",
      "yaml",
      "@opentelemetry/sdk-trace-node",
      "@opentelemetry/sdk-trace-base",
      "@opentelemetry/exporter-trace-otlp-http",
    ])
      expect(packages).not.toContain(heavy);
    expect(packages).toContain("bullmq"); // sanity: the walk does see packages
  });

  it("templates and providers use no queue, Redis or each other's packages", () => {
    for (const file of ALL.filter((f) => area(f) === "templates")) {
      expect(
        importsOf(file).packages.filter((p) => ["bullmq", "ioredis", "nodemailer", "twilio"].includes(p)),
        relative(SRC, file),
      ).toEqual([]);
    }
    for (const file of ALL.filter((f) => area(f) === "channels")) {
      expect(
        importsOf(file).packages.filter((p) => ["bullmq", "ioredis", "mjml", "handlebars"].includes(p)),
        relative(SRC, file),
      ).toEqual([]);
    }
  });
});
