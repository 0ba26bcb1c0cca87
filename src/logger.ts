import { createRequire } from "node:module";
import { pino, stdSerializers, type Logger } from "pino";
import { REDACT_PATHS, scrub } from "./redact.js";
import { traceIds } from "./telemetry/tracing.js";

export type { Logger };

/**
 * An error's `code` (`ECONNREFUSED`, `EAUTH`, `smtp-550`) is what an operator searches for; a job's `code`
 * is a secret. Redaction runs after the serializers and cannot tell the two apart by path (a wildcard
 * path is reported without its parent), so the err serializer marks the error's code with this type.
 */
class ErrorCode extends String {}
function keepErrorCodes(value: unknown): unknown {
  return value instanceof ErrorCode ? value.valueOf() : "[redacted]";
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; redaction applies all the same. */
  pretty?: boolean;
}

/** Readable logs for a developer at a terminal (HERALD_DEV=1); JSON for everything that collects logs. */
export function wantsPrettyLogs(dev: boolean, stderrIsTTY: boolean | undefined): boolean {
  return dev && stderrIsTTY === true;
}

export function createLogger(opts: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? "herald",
    level: opts.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: keepErrorCodes },
    // trace_id and span_id of the active span (OpenTelemetry), when there is one: logs and traces join up.
    mixin: traceIds,
    serializers: {
      err: (err: Error) => {
        const out = stdSerializers.err(err);
        out.message = scrub(out.message);
        if (out.stack) out.stack = scrub(out.stack);
        const code = (err as { code?: unknown }).code;
        if (typeof code === "string" || typeof code === "number") out.code = new ErrorCode(String(code));
        return out;
      },
    },
  };
  if (opts.pretty) {
    // In-process and synchronous (no transport thread): lines appear in order and are not lost at exit.
    // Loaded only here: every other process (and the SDK's users) never pays for it.
    const pinoPretty = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
    const pretty = pinoPretty({
      destination: destination ?? 2,
      sync: true,
      colorize: destination === undefined && process.stderr.isTTY,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
    });
    return pino(options, pretty);
  }
  return pino(options, destination ?? pino.destination(2));
}
