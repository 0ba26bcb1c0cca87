import type { Config } from "../config.js";
import { createRenderer, type Renderer } from "./renderer.js";

/** The renderer as configured: built-in templates, plus the tenants file and template overrides when set. */
export async function loadRenderer(config: Pick<Config, "HERALD_TENANTS_FILE" | "HERALD_TEMPLATES_DIR">): Promise<Renderer> {
  return createRenderer({ tenantsFile: config.HERALD_TENANTS_FILE, templatesDir: config.HERALD_TEMPLATES_DIR });
}
