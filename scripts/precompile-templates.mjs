// Compiles the built-in MJML templates once, at build time, into precompiled.json beside the sources in
// dist/templates/ (shipped) and src/templates/ (used by `npm start` and the tests in a checkout), so a
// worker never loads MJML unless HERALD_TEMPLATES_DIR is set. Runs after tsc (it uses the compiled code).
import { writePrecompiled } from "../dist/templates/precompiled.js";

for (const dir of ["../dist/templates/", "../src/templates/"]) {
  const file = await writePrecompiled(new URL(dir, import.meta.url));
  process.stderr.write(`templates: wrote ${file}\n`);
}
