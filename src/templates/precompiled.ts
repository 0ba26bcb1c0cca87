import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { KIND_NAMES, kindDefinition, type KindName } from "../contracts/index.js";
import type { CompiledSources } from "./mjml.js";

// The built-in templates, compiled by MJML at build time (`npm run build` writes precompiled.json beside
// the sources, in src/templates/ and dist/templates/), so a worker starts without loading MJML. The file
// records a hash of what it was made from; a copy whose sources changed since (an edited .mjml in a
// checkout, a newer MJML) is ignored and the templates are compiled at start as before.

export const PRECOMPILED_FILE = "precompiled.json";

/**
 * Bump when what compileMjml (mjml.ts) makes of the same sources changes (a new replacement, other
 * html-to-text options): compiled copies made before then count as stale.
 */
export const MJML_OUTPUT_FORMAT = 1;
const HERE = new URL("./", import.meta.url);

interface PrecompiledFile {
  hash: string;
  kinds: Partial<Record<KindName, CompiledSources>>;
}

/** The kinds that have a mail, i.e. a `kinds/<kind>.mjml`. */
export function emailKinds(): KindName[] {
  return KIND_NAMES.filter((kind) => kindDefinition(kind).channels.includes("email"));
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** What the compiled copy depends on: every built-in source, the output format, and the compilers' versions. */
export function sourceHash(dir: URL = HERE): string {
  const hash = createHash("sha256").update(`format ${MJML_OUTPUT_FORMAT}\nmjml ${versionOf("mjml")}\nhtml-to-text ${versionOf("html-to-text")}\n`);
  hash.update(readFileSync(new URL("layout.mjml", dir)));
  for (const kind of emailKinds()) hash.update(`\n${kind}\n`).update(readFileSync(new URL(`kinds/${kind}.mjml`, dir)));
  return hash.digest("hex");
}

/**
 * The compiled built-in templates, or undefined when there is no compiled copy or it is stale. Reading it
 * costs a hash of a dozen small files; compiling them costs MJML (a second or more on a small machine).
 */
export function readPrecompiled(dir: URL = HERE): Map<KindName, CompiledSources> | undefined {
  let file: PrecompiledFile;
  try {
    file = JSON.parse(readFileSync(new URL(PRECOMPILED_FILE, dir), "utf8")) as PrecompiledFile;
  } catch {
    return undefined;
  }
  if (file.hash !== sourceHash(dir)) return undefined;
  const kinds = new Map<KindName, CompiledSources>();
  for (const kind of emailKinds()) {
    const compiled = file.kinds[kind];
    if (typeof compiled?.html !== "string" || typeof compiled.text !== "string") return undefined;
    kinds.set(kind, compiled);
  }
  return kinds;
}

/** Compiles the built-in templates with MJML and writes the compiled copy (npm run build). Returns the file's path. */
export async function writePrecompiled(dir: URL = HERE): Promise<string> {
  const { compileMjml } = await import("./mjml.js");
  const layout = { text: readFileSync(new URL("layout.mjml", dir), "utf8"), file: "built-in layout.mjml" };
  const kinds: PrecompiledFile["kinds"] = {};
  for (const kind of emailKinds()) {
    kinds[kind] = await compileMjml(layout, { text: readFileSync(new URL(`kinds/${kind}.mjml`, dir), "utf8"), file: `built-in kinds/${kind}.mjml` });
  }
  const target = new URL(PRECOMPILED_FILE, dir);
  // Written aside and renamed: a worker starting meanwhile reads the old copy or the new one, never half of one.
  const partial = new URL(`${PRECOMPILED_FILE}.${process.pid}.tmp`, dir);
  writeFileSync(partial, `${JSON.stringify({ hash: sourceHash(dir), kinds } satisfies PrecompiledFile)}\n`);
  renameSync(partial, target);
  return target.pathname;
}
