import { accessSync, constants } from "node:fs";
import type { z } from "zod";
import { flag, optionalText } from "./env.js";

/**
 * How to reach Redis: one server (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`) or a master
 * found through Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`), each with or without TLS. The
 * factory in queues/connection.ts turns these into an ioredis client; every part of Herald uses it.
 */

/** `host:port,host:port`: a Cluster's seed nodes or the sentinels. */
const hostPortList = (name: string) =>
  optionalText.refine(
    (v) =>
      v === undefined ||
      v
        .split(",")
        .map((p) => p.trim())
        .every((p) => parseHostPort(p) !== undefined),
    `${name} must be a comma-separated list of host:port, e.g. 10.0.0.1:6379,10.0.0.2:6379`,
  );

export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:]+\]|[^\s:,[\]]+):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

export function parseHostPortList(value: string): { host: string; port: number }[] {
  return value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => parseHostPort(p))
    .filter((p): p is { host: string; port: number } => p !== undefined);
}

export const redisVariables = {
  REDIS_CLUSTER_NODES: hostPortList("REDIS_CLUSTER_NODES"),
  REDIS_SENTINELS: hostPortList("REDIS_SENTINELS"),
  REDIS_SENTINEL_NAME: optionalText,
  /** Credentials of the Cluster's nodes, or of the master and replicas behind Sentinel (REDIS_URL carries its own). */
  REDIS_USERNAME: optionalText,
  REDIS_PASSWORD: optionalText,
  /** TLS to the Cluster's nodes, or to the sentinels and the master (a single server: `rediss://`). */
  REDIS_TLS: optionalText.pipe(flag.optional()),
  REDIS_TLS_CA_FILE: optionalText,
  REDIS_TLS_CERT_FILE: optionalText,
  REDIS_TLS_KEY_FILE: optionalText,
};

export type RedisVariables = {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME?: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_TLS?: boolean;
  REDIS_TLS_CA_FILE?: string;
  REDIS_TLS_CERT_FILE?: string;
  REDIS_TLS_KEY_FILE?: string;
};

const TLS_FILES = ["REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"] as const;

/** Whether the settings ask for TLS: `rediss://` for one server, REDIS_TLS=1 for a Cluster or Sentinel. */
export function redisTlsOn(env: Partial<RedisVariables>): boolean {
  if (env.REDIS_CLUSTER_NODES || env.REDIS_SENTINELS) return env.REDIS_TLS === true;
  return /^rediss:/i.test(env.REDIS_URL ?? "");
}

/** Every problem with the Redis settings, each naming its variable; refined into the producer's and the service's schema. */
export function redisIssues(env: Partial<RedisVariables>): { variable: string; message: string }[] {
  const issues: { variable: string; message: string }[] = [];
  if (env.REDIS_CLUSTER_NODES && env.REDIS_SENTINELS) {
    issues.push({ variable: "REDIS_SENTINELS", message: "set REDIS_CLUSTER_NODES (Redis Cluster) or REDIS_SENTINELS (Sentinel), not both" });
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) {
    issues.push({
      variable: "REDIS_SENTINEL_NAME",
      message: "REDIS_SENTINEL_NAME is required with REDIS_SENTINELS (the master's name in the sentinels' configuration, e.g. mymaster)",
    });
  }
  if (env.REDIS_SENTINEL_NAME && !env.REDIS_SENTINELS) {
    issues.push({ variable: "REDIS_SENTINELS", message: "REDIS_SENTINELS (host:port,...) is required with REDIS_SENTINEL_NAME" });
  }
  if (env.REDIS_TLS !== undefined && !env.REDIS_CLUSTER_NODES && !env.REDIS_SENTINELS) {
    issues.push({
      variable: "REDIS_TLS",
      message: "REDIS_TLS applies to REDIS_CLUSTER_NODES or REDIS_SENTINELS; for a single server use a rediss:// REDIS_URL",
    });
  }
  if (!env.REDIS_TLS_CERT_FILE !== !env.REDIS_TLS_KEY_FILE) {
    issues.push({
      variable: env.REDIS_TLS_CERT_FILE ? "REDIS_TLS_KEY_FILE" : "REDIS_TLS_CERT_FILE",
      message: "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (the client certificate and its key)",
    });
  }
  const files = TLS_FILES.filter((name) => env[name]);
  if (files.length > 0 && !redisTlsOn(env)) {
    const how = env.REDIS_CLUSTER_NODES || env.REDIS_SENTINELS ? "set REDIS_TLS=1" : "use a rediss:// REDIS_URL";
    issues.push({ variable: files[0]!, message: `${files.join(", ")} set but the connection to Redis is not TLS: ${how}` });
  }
  for (const name of files) {
    const path = env[name]!;
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      issues.push({ variable: name, message: `${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})` });
    }
  }
  return issues;
}

export function checkRedisVariables(env: Partial<RedisVariables>, ctx: z.RefinementCtx): void {
  for (const issue of redisIssues(env)) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
}
