import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parseJob } from "../../src/contracts/index.js";
import { compileMjml } from "../../src/templates/mjml.js";
import { emailKinds, readPrecompiled, writePrecompiled } from "../../src/templates/precompiled.js";
import { createRenderer } from "../../src/templates/renderer.js";
import { ROOT } from "../support/cli.js";

const SOURCES = new URL("../../src/templates/", import.meta.url);

/** A copy of the built-in sources in a folder of its own, so the test can compile and edit them. */
function copyOfSources(): URL {
  const dir = mkdtempSync(join(tmpdir(), "herald-precompiled-"));
  cpSync(new URL("layout.mjml", SOURCES), join(dir, "layout.mjml"));
  cpSync(new URL("kinds/", SOURCES), join(dir, "kinds"), { recursive: true });
  return pathToFileURL(`${dir}/`);
}

describe("built-in templates compiled at build time", () => {
  beforeAll(async () => {
    // What npm run build does for src/templates (the copy is gitignored; a checkout may not have one yet).
    await writePrecompiled();
  }, 60_000);

  it("the compiled copy is exactly what MJML makes of the sources, and an edited source makes it stale", async () => {
    const dir = copyOfSources();
    expect(readPrecompiled(dir)).toBeUndefined(); // none written yet
    await writePrecompiled(dir);
    const compiled = readPrecompiled(dir);
    expect([...compiled!.keys()].sort()).toEqual(emailKinds().sort());
    const { readFileSync } = await import("node:fs");
    const layout = { text: readFileSync(new URL("layout.mjml", dir), "utf8"), file: "layout" };
    const body = { text: readFileSync(new URL("kinds/password-reset.mjml", dir), "utf8"), file: "body" };
    expect(compiled!.get("password-reset")).toEqual(await compileMjml(layout, body));
    appendFileSync(new URL("kinds/otp-email.mjml", dir), "\n<mj-text>edited</mj-text>\n");
    expect(readPrecompiled(dir)).toBeUndefined();
  }, 60_000);

  it("renders the same mail as templates compiled at start (an empty override folder)", async () => {
    const shipped = await createRenderer();
    const atStart = await createRenderer({ templatesDir: mkdtempSync(join(tmpdir(), "herald-empty-")) });
    for (const locale of ["en", "de", "ar"]) {
      const input = {
        kind: "password-reset" as const,
        job: parseJob("password-reset", {
          recipient: { userId: "u", email: "ada@example.com", firstName: "Ada", locale },
          code: "K7Q2M9",
          url: "https://l.test/r",
          expiresAt: "2026-03-02T10:00:00Z",
        }),
        link: "https://l.test/r",
        now: Date.parse("2026-03-02T09:00:00Z"),
      };
      expect(shipped.email(input)).toEqual(atStart.email(input));
    }
  }, 60_000);

  it("a renderer with the built-in templates never loads MJML or html-to-text; an override folder does", () => {
    const script = `
      import { createRequire } from "node:module";
      import { mkdtempSync } from "node:fs";
      import { tmpdir } from "node:os";
      import { join } from "node:path";
      const { createRenderer } = await import("./src/templates/renderer.ts");
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules\\/(mjml|html-to-text)\\//.test(k)).length;
      await createRenderer();
      const before = loaded();
      await createRenderer({ templatesDir: mkdtempSync(join(tmpdir(), "herald-empty-")) });
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
    expect(run.stderr).toBe("");
    const { before, after } = JSON.parse(run.stdout) as { before: number; after: number };
    expect(before).toBe(0);
    expect(after).toBeGreaterThan(0);
  }, 60_000);
});
