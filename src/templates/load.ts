import type { Config } from "../config/index.js";
import { createRenderer, type Renderer, type RendererOptions } from "./renderer.js";

/** The renderer as configured: built-in templates, plus the tenants file, template overrides and product name when set. */
export async function loadRenderer(
  config: Pick<Config, "HERALD_TENANTS_FILE" | "HERALD_TEMPLATES_DIR"> & { HERALD_PRODUCT_NAME?: string },
  hooks: Pick<RendererOptions, "onUnknownTenant"> = {},
): Promise<Renderer> {
  return createRenderer({
    tenantsFile: config.HERALD_TENANTS_FILE,
    templatesDir: config.HERALD_TEMPLATES_DIR,
    ...(config.HERALD_PRODUCT_NAME ? { branding: { productName: config.HERALD_PRODUCT_NAME } } : {}),
    ...hooks,
  });
}
