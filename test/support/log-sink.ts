import { Writable } from "node:stream";
import { createLogger, type Logger, type LoggerOptions } from "../../src/logger.js";

/** A Herald logger (redaction and all) that writes to memory, for asserting what reached the log. */
export interface MemoryLog {
  logger: Logger;
  /** Every line written, in order, without its newline. */
  lines: string[];
  /** The lines parsed as JSON (for a logger that is not `pretty`). */
  records(): Record<string, unknown>[];
  /** Everything written, as one text. */
  text(): string;
}

/** `createLogger` (level `info` unless given) into memory. */
export function memoryLog(opts: LoggerOptions = {}): MemoryLog {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger({ level: "info", ...opts }, sink),
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => lines.join("\n"),
  };
}
