// Writes docs/schemas/<kind>.schema.json from the zod contracts (the single source of truth).
// `npm run schemas` after changing a contract; a test fails while the committed files are stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { jsonSchemas } from "../src/contracts/json-schema.js";

const dir = resolve(import.meta.dirname, "../docs/schemas");
mkdirSync(dir, { recursive: true });
for (const [kind, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(resolve(dir, `${kind}.schema.json`), JSON.stringify(schema, null, 2) + "\n");
}
