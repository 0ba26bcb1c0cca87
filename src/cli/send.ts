import { readFileSync } from "node:fs";
import { isKindName, KIND_NAMES, parseJob, ValidationError, type KindName } from "../contracts/index.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { Herald, type HeraldOptions } from "../queues/producer.js";
import { limitSettingsOf } from "../config/producer.js";
import type { Config } from "../config/index.js";
import { readTenantLimits } from "../templates/tenants.js";
import { lookupStatus, type NotificationState } from "../queues/status.js";
import type { OpsContext } from "./redis.js";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The JSON a command was given, from --data or --data-file ('-' is standard input). */
export function readJsonOption(opts: { data?: string; dataFile?: string }): unknown {
  if (opts.data !== undefined && opts.dataFile !== undefined) throw new UsageError("give --data or --data-file, not both");
  const source = opts.data ?? (opts.dataFile !== undefined ? readDataFile(opts.dataFile) : undefined);
  if (source === undefined) throw new UsageError("give the job as --data '<json>' or --data-file <file>");
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new UsageError(`the job is not valid JSON: ${(error as Error).message}`);
  }
}

function readDataFile(path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --data-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export interface SendResult {
  id: string;
  channel: string;
  deduplicated: boolean;
  /** Where the job is now: `queued` for a new one; for a repeated idempotencyKey, the first job's current state. */
  status: NotificationState | "unknown";
}

/** Validates, then enqueues on the CLI's connection; a repeated idempotencyKey answers the first job's current state. */
export async function send(ops: OpsContext, kind: string, job: unknown, warn: (m: string) => void): Promise<SendResult> {
  const herald = heraldFor(ops, warn);
  try {
    const result = await herald.enqueue(kind as KindName, job as never);
    const status = result.deduplicated ? ((await lookupStatus(result.id, ops))?.status ?? "unknown") : "queued";
    return { id: result.id, channel: result.channel, deduplicated: result.deduplicated, status };
  } finally {
    await herald.close();
  }
}

/** A producer on the command's connection, with the configured limits (the tenants file's included). */
export function heraldFor(ops: Pick<OpsContext, "config" | "connection">, warn: (m: string) => void): Herald {
  const { config } = ops;
  return new Herald({
    redis: ops.connection,
    prefix: config.HERALD_PREFIX,
    shards: config.HERALD_SHARDS,
    replicasAck: config.HERALD_REPLICAS_ACK,
    replicasAckTimeoutMs: config.HERALD_REPLICAS_ACK_TIMEOUT_MS,
    encryptionKey: config.HERALD_ENCRYPTION_KEY,
    encryptionKeys: config.HERALD_ENCRYPTION_KEYS,
    dev: config.HERALD_DEV,
    dataDir: config.HERALD_DATA_DIR,
    retry: retryPolicyOf(config),
    onWarning: warn,
    limits: limitsOption(config),
  });
}

/** Herald's `limits` option from the configuration: the HERALD_LIMIT_* defaults and each tenant's own from HERALD_TENANTS_FILE. */
export function limitsOption(config: Config): HeraldOptions["limits"] {
  const settings = limitSettingsOf(config);
  if (!settings || !config.HERALD_TENANTS_FILE) return settings;
  return { ...settings, tenants: readTenantLimits(config.HERALD_TENANTS_FILE) };
}

/** Bad input is reported before anything else happens (key files, connections). */
export function checkJob(kind: string, job: unknown): void {
  if (!isKindName(kind)) throw new ValidationError(kind, [{ field: "kind", message: `is unknown; expected one of ${KIND_NAMES.join(", ")}` }]);
  parseJob(kind, job);
}
