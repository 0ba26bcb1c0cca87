import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../src/config/index.js";
import { jsonSchemas } from "../src/contracts/json-schema.js";
import { KIND_NAMES } from "../src/contracts/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const readme = readFileSync(resolve(ROOT, "README.md"), "utf8");

describe("documentation stays true to the code", () => {
  it("the README's configuration table has every variable Herald reads", () => {
    for (const name of CONFIG_VARIABLES) expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` \\|`, "m"));
  });

  it("the README documents every job kind", () => {
    for (const kind of KIND_NAMES) expect(readme, kind).toContain(`| \`${kind}\` |`);
  });

  it("docs/schemas matches the contracts (run `npm run schemas` after changing one)", () => {
    for (const [kind, schema] of Object.entries(jsonSchemas())) {
      const committed = JSON.parse(readFileSync(resolve(ROOT, `docs/schemas/${kind}.schema.json`), "utf8"));
      expect(committed, kind).toEqual(schema);
    }
  });
});
