// Builds packages/sdk (the `herald-sdk` package) from the one source tree: tsc follows src/index.ts's
// imports, so packages/sdk/dist holds exactly the SDK's import closure. Then it refuses to finish if the
// package's manifest no longer matches that closure, so the SDK cannot ship an undeclared dependency
// (or drag along one it does not use) after someone adds an import.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SDK = join(ROOT, "packages/sdk");
const DIST = join(SDK, "dist");

// A stale file from an earlier build would be published with the next one.
rmSync(DIST, { recursive: true, force: true });
execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(SDK, "tsconfig.json")], { stdio: "inherit" });

const files = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
const emitted = files(DIST).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"));

const builtins = new Set(builtinModules);
const imported = new Map(); // package -> first file that imports it
for (const file of emitted) {
  const source = readFileSync(file, "utf8");
  for (const [, , specifier] of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)(["'])([^"']+)\1/g)) {
    if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
    const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
    if (!imported.has(name)) imported.set(name, relative(SDK, file));
  }
}

const sdk = JSON.parse(readFileSync(join(SDK, "package.json"), "utf8"));
const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const declared = sdk.dependencies ?? {};
const problems = [];
for (const [name, file] of imported) {
  if (!(name in declared)) problems.push(`${file} imports "${name}", which packages/sdk/package.json does not list in dependencies`);
}
for (const [name, range] of Object.entries(declared)) {
  if (!imported.has(name)) problems.push(`packages/sdk/package.json lists "${name}", which the SDK no longer imports`);
  const rootRange = root.dependencies?.[name];
  if (rootRange !== range)
    problems.push(`"${name}" is ${range} in packages/sdk/package.json but ${rootRange ?? "absent"} in package.json: the SDK and the service must agree`);
}
// Producers and workers share the queue format and the sealing of secrets: the two ship as one version.
if (sdk.version !== root.version) problems.push(`packages/sdk/package.json is version ${sdk.version}, package.json ${root.version}: release them together`);

if (problems.length > 0) {
  console.error(`build-sdk: the SDK's manifest does not match its code:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(`build-sdk: ${relative(ROOT, DIST)} (${emitted.length} files; dependencies ${[...imported.keys()].sort().join(", ")})`);
