import { pino, stdSerializers, type Logger } from "pino";
import { REDACT_PATHS, scrub } from "./redact.js";

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

export function createLogger(opts: { level?: string; name?: string } = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? "herald",
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: keepErrorCodes },
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
    },
    destination ?? pino.destination(2),
  );
}
