import { readFileSync } from "node:fs";
import { isKindName, KIND_NAMES, parseJob, ValidationError, type KindName } from "../contracts/index.js";
import { retryPolicyOf } from "../queues/job-options.js";
import { Herald } from "../queues/producer.js";
import type { Config } from "../config.js";

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

export async function send(config: Config, kind: string, job: unknown, warn: (m: string) => void): Promise<{ id: string; deduplicated: boolean; channel: string }> {
  if (!isKindName(kind)) throw new ValidationError(kind, [{ field: "kind", message: `is unknown; expected one of ${KIND_NAMES.join(", ")}` }]);
  parseJob(kind, job); // bad input is reported before anything else happens (key files, connections)
  const herald = new Herald({
    redis: config.REDIS_URL,
    prefix: config.HERALD_PREFIX,
    encryptionKey: config.HERALD_ENCRYPTION_KEY,
    encryptionKeys: config.HERALD_ENCRYPTION_KEYS,
    dev: config.HERALD_DEV,
    dataDir: config.HERALD_DATA_DIR,
    retry: retryPolicyOf(config),
    onWarning: warn,
  });
  try {
    return await herald.enqueue(kind as KindName, job as never);
  } finally {
    await herald.close();
  }
}
