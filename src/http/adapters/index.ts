import type { FastifyInstance } from "fastify";
import type { HttpConfig } from "../../config/http.js";
import type { AdapterOptions } from "./common.js";
import { kratosAdapter } from "./kratos.js";
import { supabaseAdapter } from "./supabase.js";
import { zitadelAdapter } from "./zitadel.js";

export type AdapterConfig = Pick<HttpConfig, "HERALD_ZITADEL_SIGNING_KEY" | "HERALD_SUPABASE_HOOK_SECRET" | "HERALD_KRATOS_API_KEY" | "HERALD_ADAPTER_TENANT">;

export interface AdaptersOptions extends Omit<AdapterOptions, "tenant"> {
  config: AdapterConfig;
}

/**
 * The identity-server adapters (register with prefix /v1/adapters): each mounted only when its secret is
 * configured, so an unconfigured one answers 404 rather than accepting anything. They sit beside the
 * /v1 API, not behind its Bearer tokens: each checks its server's own signature or key instead.
 */
export async function adapters(app: FastifyInstance, opts: AdaptersOptions): Promise<void> {
  const { config, ...rest } = opts;
  const common: AdapterOptions = { ...rest, tenant: config.HERALD_ADAPTER_TENANT };
  if (config.HERALD_ZITADEL_SIGNING_KEY) {
    await app.register(zitadelAdapter, { ...common, prefix: "/zitadel", signingKeys: config.HERALD_ZITADEL_SIGNING_KEY });
  }
  if (config.HERALD_SUPABASE_HOOK_SECRET) {
    await app.register(supabaseAdapter, { ...common, prefix: "/supabase", secrets: config.HERALD_SUPABASE_HOOK_SECRET });
  }
  if (config.HERALD_KRATOS_API_KEY) {
    await app.register(kratosAdapter, { ...common, prefix: "/kratos", apiKey: config.HERALD_KRATOS_API_KEY });
  }
}

/** Which adapters this configuration mounts (for the start-up log). */
export function mountedAdapters(config: Partial<AdapterConfig>): string[] {
  return [
    config.HERALD_ZITADEL_SIGNING_KEY ? "zitadel" : undefined,
    config.HERALD_SUPABASE_HOOK_SECRET ? "supabase" : undefined,
    config.HERALD_KRATOS_API_KEY ? "kratos" : undefined,
  ].filter((a): a is string => a !== undefined);
}
