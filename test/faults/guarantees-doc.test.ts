import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { testEnv } from "../support/herald.js";

const ROOT = resolve(import.meta.dirname, "../..");
const readme = readFileSync(resolve(ROOT, "README.md"), "utf8");
const section = /^## Guarantees\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? "";

describe("the README's Guarantees section", () => {
  it("names a fault test for each promise, and every fault test is named", () => {
    expect(section).toMatch(/at-least-once/);
    const named = new Set([...section.matchAll(/`(test\/faults\/[\w-]+\.test\.ts)`/g)].map((m) => m[1]!));
    for (const file of named) expect(existsSync(resolve(ROOT, file)), file).toBe(true);
    const faultTests = readdirSync(resolve(ROOT, "test/faults")).filter((f) => f.endsWith(".test.ts") && f !== basename(import.meta.filename));
    for (const file of faultTests) expect(named, file).toContain(`test/faults/${file}`);
  });

  it("states the lock defaults it measured", () => {
    const config = loadConfig(testEnv());
    expect(section).toContain(`with the defaults, ${config.HERALD_LOCK_MS / 1000} s and ${config.HERALD_STALLED_INTERVAL_MS / 1000} s`);
  });
});
