// tsc compiles only TypeScript; the templates' MJML and message files are read at start-up, so they ship beside the code.
import { cpSync } from "node:fs";

cpSync("src/templates", "dist/templates", {
  recursive: true,
  filter: (source) => !source.endsWith(".ts"),
});
