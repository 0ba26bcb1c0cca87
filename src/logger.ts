import { pino, stdSerializers, type Logger } from "pino";
import { REDACT_PATHS, scrub } from "./redact.js";

export type { Logger };

export function createLogger(opts: { level?: string; name?: string } = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? "herald",
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: {
        err: (err: Error) => {
          const out = stdSerializers.err(err);
          out.message = scrub(out.message);
          if (out.stack) out.stack = scrub(out.stack);
          return out;
        },
      },
    },
    destination ?? pino.destination(2),
  );
}
