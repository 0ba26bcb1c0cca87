import { z } from "zod";
import { adapterEnvShape } from "./adapters.js";
import { describeEnvIssues, flag } from "./env.js";

export { describeEnvIssues, flag } from "./env.js";

/** `metrics` may read /metrics only; `admin` may do everything. */
export const API_SCOPES = ["enqueue", "metrics", "admin"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiToken {
  scope: ApiScope;
  token: string;
}

/** Shorter tokens are refused: a bearer token is the whole of the API's protection. */
export const MIN_TOKEN_LENGTH = 16;

/** `scope:token` pairs, comma-separated; several tokens per scope are allowed (for rotation). */
export const apiTokens = z
  .string()
  .default("")
  .transform((raw, ctx) => {
    const tokens: ApiToken[] = [];
    raw
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .forEach((part, index) => {
        const colon = part.indexOf(":");
        const scope = colon < 0 ? "" : part.slice(0, colon).trim();
        const token = colon < 0 ? "" : part.slice(colon + 1).trim();
        // The token itself is never echoed into an error message.
        if (!(API_SCOPES as readonly string[]).includes(scope)) {
          ctx.addIssue({ code: "custom", message: `HERALD_API_TOKENS entry ${index + 1} must be scope:token with scope ${API_SCOPES.join(" or ")}` });
        } else if (token.length < MIN_TOKEN_LENGTH) {
          ctx.addIssue({
            code: "custom",
            message: `HERALD_API_TOKENS entry ${index + 1} (${scope}) must have a token of at least ${MIN_TOKEN_LENGTH} characters`,
          });
        } else {
          tokens.push({ scope: scope as ApiScope, token });
        }
      });
    return tokens;
  });

/**
 * The HTTP settings, to be spread into src/config.ts's schema (`...httpEnvShape`). HERALD_DEV is
 * already there and is therefore not part of this shape.
 */
export const httpEnvShape = {
  HERALD_HTTP_PORT: z.coerce
    .number({ error: "HERALD_HTTP_PORT must be a whole number" })
    .int("HERALD_HTTP_PORT must be a whole number")
    .min(0, "HERALD_HTTP_PORT must be at least 0")
    .max(65_535, "HERALD_HTTP_PORT must be at most 65535")
    .default(8080),
  /** Default: 0.0.0.0, or 127.0.0.1 when the API runs open (HERALD_DEV=1 without tokens). */
  HERALD_HTTP_HOST: z.string().trim().min(1).optional(),
  HERALD_API_TOKENS: apiTokens,
  HERALD_BOARD_READONLY: flag.default(false),
  ...adapterEnvShape,
};

export const httpConfigSchema = z.object({ ...httpEnvShape, HERALD_DEV: flag.default(false) });

export type HttpConfig = z.output<typeof httpConfigSchema>;

export class HttpConfigError extends Error {
  override readonly name = "HttpConfigError";
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1";
}

/**
 * An API without tokens (HERALD_DEV=1) is open to whoever can connect: it may only listen on loopback,
 * or anyone on the network could read dead letters, replay and purge them, and send mail.
 */
export function openApiExposureIssue(config: { HERALD_DEV: boolean; HERALD_API_TOKENS: readonly ApiToken[] }, host: string): string | undefined {
  if (config.HERALD_API_TOKENS.length > 0 || isLoopback(host)) return undefined;
  return `HERALD_HTTP_HOST=${host} with HERALD_DEV=1 and no HERALD_API_TOKENS would serve the unauthenticated admin API to the network. Set HERALD_API_TOKENS, or let HERALD_HTTP_HOST default to 127.0.0.1`;
}

/** Reads the HTTP settings from the environment; a bad value throws with the variable named. */
export function loadHttpConfig(env: NodeJS.ProcessEnv = process.env): HttpConfig {
  const result = httpConfigSchema.safeParse(env);
  if (result.success) return result.data;
  throw new HttpConfigError(describeEnvIssues(result.error));
}
