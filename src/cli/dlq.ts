import { Presets, SingleBar } from "cli-progress";
import { FAILURE_CLASSES, type FailureClass } from "../errors/index.js";
import { hasFilter, type DeadLetterFilter, type DeadLetterRecord, type DeadLetters } from "../queues/dead-letter.js";
import { UsageError } from "./send.js";

export interface FilterOptions {
  kind?: string;
  class?: string;
  since?: string;
}

export function toFilter(opts: FilterOptions): DeadLetterFilter {
  if (opts.class && !FAILURE_CLASSES.includes(opts.class as FailureClass)) {
    throw new UsageError(`--class must be one of ${FAILURE_CLASSES.join(", ")}`);
  }
  let since: Date | undefined;
  if (opts.since) {
    since = parseSince(opts.since);
    if (!since) throw new UsageError("--since takes an ISO time (2026-01-31T12:00Z) or a duration such as 30m, 6h, 2d");
  }
  return { kind: opts.kind, failureClass: opts.class as FailureClass | undefined, since };
}

function parseSince(value: string, now = Date.now()): Date | undefined {
  const relative = /^(\d+)\s*(m|h|d)$/.exec(value);
  if (relative) return new Date(now - Number(relative[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "m" | "h" | "d"]);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at);
}

/** Columns padded to their widest cell; the last column is left ragged. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ")).join("\n");
}

export function formatTable(records: DeadLetterRecord[]): string {
  if (records.length === 0) return "no dead letters";
  const rows = records.map((r) => [
    r.id,
    r.kind,
    r.failureClass,
    String(r.attempts),
    r.failedAt,
    r.reason.length > 70 ? r.reason.slice(0, 69) + "…" : r.reason,
  ]);
  return table(["ID", "KIND", "CLASS", "TRIES", "FAILED AT", "REASON"], rows);
}

export const QUEUE_STATES = ["waiting", "active", "delayed", "prioritized", "failed", "completed"] as const;

export function formatCounts(counts: Record<string, Record<string, number>>): string {
  const rows = Object.entries(counts).map(([queue, c]) => [queue, ...QUEUE_STATES.map((s) => String(c[s] ?? 0))]);
  return table(["QUEUE", ...QUEUE_STATES.map((s) => s.toUpperCase())], rows);
}

export function formatStatus(status: object): string {
  return table(
    ["FIELD", "VALUE"],
    Object.entries(status)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]),
  );
}

/** A progress bar on a terminal for bulk work (thousands of dead letters); silent when piped. */
export async function withProgress(label: string, work: (onProgress: (done: number, total: number) => void) => Promise<number>): Promise<number> {
  if (!process.stderr.isTTY) return work(() => {});
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  let started = false;
  try {
    return await work((done, total) => {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    });
  } finally {
    if (started) bar.stop();
  }
}

/**
 * One rule for replay and purge (and the HTTP API's bulk routes): an id alone, or a filter, or --all
 * (which a filter may narrow). Nothing at all is refused rather than taken to mean every dead letter.
 */
export function checkSelection(verb: string, id: string | undefined, all: boolean, filter: DeadLetterFilter): void {
  if (id && (all || hasFilter(filter))) throw new UsageError(`give a dead-letter id, or --all / filters (--kind, --class, --since), not both`);
  if (!id && !all && !hasFilter(filter))
    throw new UsageError(`${verb} needs a dead-letter id, a filter (--kind, --class, --since), or --all for every dead letter`);
}

export async function replay(deadLetters: DeadLetters, id: string | undefined, all: boolean, filter: DeadLetterFilter): Promise<string> {
  checkSelection("replay", id, all, filter);
  if (id) {
    const newId = await deadLetters.replay(id);
    if (!newId) throw new UsageError(`no dead letter ${id}`);
    return `replayed ${id} as job ${newId}`;
  }
  const count = await withProgress("replaying", (onProgress) => deadLetters.replayAll(filter, onProgress));
  return `replayed ${count} dead letter(s)`;
}

export async function purge(deadLetters: DeadLetters, id: string | undefined, all: boolean, filter: DeadLetterFilter): Promise<string> {
  checkSelection("purge (deleting for good)", id, all, filter);
  if (id) {
    if (!(await deadLetters.remove(id))) throw new UsageError(`no dead letter ${id}`);
    return `purged ${id}`;
  }
  const count = await withProgress("purging", (onProgress) => deadLetters.purge(filter, onProgress));
  return `purged ${count} dead letter(s)`;
}
