import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");

function importsOf(file: string): { local: string[]; packages: string[] } {
  const source = readFileSync(file, "utf8");
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)/g)].map((m) => m[1] ?? m[2]);
  const local = specifiers.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  const packages = specifiers.filter((s) => !s.startsWith(".") && !s.startsWith("node:")).map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]));
  return { local, packages };
}

/** Every file and package reachable from an entry by static imports. */
function graph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const { local, packages: pkgs } = importsOf(file);
    pkgs.forEach((p) => packages.add(p));
    local.forEach(visit);
  };
  visit(entry);
  return { files, packages };
}

function filesIn(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesIn(path) : path.endsWith(".ts") ? [path] : [];
  });
}

const area = (file: string) => relative(SRC, file).split("/")[0];

describe("imports point down the flow: producer → contract → queue → worker → renderer → channel", () => {
  it("the producer SDK pulls in no worker, template or provider code", () => {
    const { files, packages } = graph(join(SRC, "index.ts"));
    const areas = new Set([...files].map(area));
    for (const forbidden of ["workers", "templates", "channels", "http", "cli"]) expect(areas).not.toContain(forbidden);
    for (const heavy of ["mjml", "nodemailer", "twilio", "handlebars", "html-to-text", "fastify", "pino"]) expect(packages).not.toContain(heavy);
    expect(packages).toContain("bullmq"); // sanity: the walk does see packages
  });

  it("contracts import none of Herald's other parts", () => {
    for (const file of filesIn(join(SRC, "contracts"))) {
      expect(importsOf(file).local.map(area).filter((a) => a !== "contracts"), relative(SRC, file)).toEqual([]);
    }
  });

  it("templates are pure and channels know no queue", () => {
    for (const file of filesIn(join(SRC, "templates"))) {
      const { local, packages } = importsOf(file);
      expect(local.map(area).filter((a) => !["templates", "contracts", "config.ts"].includes(a)), relative(SRC, file)).toEqual([]);
      expect(packages.filter((p) => ["bullmq", "ioredis", "nodemailer", "twilio"].includes(p)), relative(SRC, file)).toEqual([]);
    }
    for (const file of filesIn(join(SRC, "channels"))) {
      const { local, packages } = importsOf(file);
      expect(local.map(area).filter((a) => !["channels", "config.ts"].includes(a)), relative(SRC, file)).toEqual([]);
      expect(packages.filter((p) => ["bullmq", "ioredis"].includes(p)), relative(SRC, file)).toEqual([]);
    }
  });
});
