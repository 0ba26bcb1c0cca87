import { Presets, SingleBar } from "cli-progress";
import { type Command, Option } from "commander";
import type { Config } from "../config/index.js";
import { KIND_NAMES } from "../contracts/index.js";
import { FAILURE_CLASSES, type FailureClass } from "../errors/index.js";
import { hasFilter, publicDeadLetter, type DeadLetterFilter, type DeadLetterRecord, type DeadLetters } from "../queues/dead-letter.js";
import { positiveInt } from "./options.js";
import { withRedis } from "./redis.js";
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
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  return [head, ...rows].map((cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
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

/** A letter that is not there: already replayed (and as which job), or never there / removed. */
async function goneLetter(deadLetters: DeadLetters, id: string): Promise<UsageError> {
  const newId = await deadLetters.replayedAs(id);
  return new UsageError(newId ? `dead letter ${id} was already replayed, as job ${newId}` : `no dead letter ${id} (removed, or never there)`);
}

export async function replay(deadLetters: DeadLetters, id: string | undefined, all: boolean, filter: DeadLetterFilter): Promise<string> {
  checkSelection("replay", id, all, filter);
  if (id) {
    const newId = await deadLetters.replay(id);
    if (!newId) throw await goneLetter(deadLetters, id);
    return `replayed ${id} as job ${newId}`;
  }
  const count = await withProgress("replaying", (onProgress) => deadLetters.replayAll(filter, onProgress));
  return `replayed ${count} dead letter(s)`;
}

export async function purge(deadLetters: DeadLetters, id: string | undefined, all: boolean, filter: DeadLetterFilter): Promise<string> {
  checkSelection("purge (deleting for good)", id, all, filter);
  if (id) {
    if (!(await deadLetters.remove(id))) throw await goneLetter(deadLetters, id);
    return `purged ${id}`;
  }
  const count = await withProgress("purging", (onProgress) => deadLetters.purge(filter, onProgress));
  return `purged ${count} dead letter(s)`;
}

const filterOptions = (cmd: Command) =>
  cmd
    .addOption(new Option("--kind <kind>", "only this job kind").choices(KIND_NAMES))
    .addOption(new Option("--class <class>", "only this failure class").choices(FAILURE_CLASSES))
    .option("--since <when>", "only those that failed since an ISO time or a duration ago (30m, 6h, 2d)");

/** `dlq list|show|replay|purge`, added under the program so they share its settings (exitOverride, help after an error). */
export function addDlqCommands(program: Command, config: () => Config): Command {
  const dlq = program.command("dlq").description("inspect, replay and purge the dead-letter queue");
  filterOptions(dlq.command("list").description("list dead letters, newest first"))
    .option("--json", "print JSON lines")
    .option("--limit <n>", "at most this many", positiveInt, 100)
    .action(async (opts: FilterOptions & { json?: boolean; limit: number }) => {
      const filter = toFilter(opts);
      await withRedis(config(), async ({ deadLetters: dl }) => {
        const { total, items } = await dl.list(filter, { limit: opts.limit });
        if (opts.json) for (const item of items) process.stdout.write(JSON.stringify(publicDeadLetter(item)) + "\n");
        else process.stdout.write(formatTable(items) + (total > items.length ? `\n… ${total - items.length} more (use --limit)` : "") + "\n");
      });
    });
  dlq
    .command("show")
    .argument("<id>", "dead-letter id")
    .description("one dead letter in full (without its sealed secrets)")
    .action(async (id: string) => {
      await withRedis(config(), async ({ deadLetters: dl }) => {
        const record = await dl.get(id);
        if (!record) throw new UsageError(`no dead letter ${id}`);
        process.stdout.write(JSON.stringify(publicDeadLetter(record), null, 2) + "\n");
      });
    });
  filterOptions(dlq.command("replay").description("put dead letters back on their queues as new jobs: one, those matching the filters, or --all"))
    .argument("[id]", "only this dead letter")
    .option("--all", "every dead letter (needed when no id or filter is given)")
    .action(async (id: string | undefined, opts: FilterOptions & { all?: boolean }) => {
      const filter = toFilter(opts);
      checkSelection("replay", id, Boolean(opts.all), filter);
      await withRedis(config(), async ({ deadLetters }) => process.stdout.write((await replay(deadLetters, id, Boolean(opts.all), filter)) + "\n"));
    });
  filterOptions(dlq.command("purge").description("delete dead letters for good: one, those matching the filters, or --all"))
    .argument("[id]", "only this dead letter")
    .option("--all", "every dead letter (needed when no id or filter is given)")
    .action(async (id: string | undefined, opts: FilterOptions & { all?: boolean }) => {
      const filter = toFilter(opts);
      checkSelection("purge (deleting for good)", id, Boolean(opts.all), filter);
      await withRedis(config(), async ({ deadLetters }) => process.stdout.write((await purge(deadLetters, id, Boolean(opts.all), filter)) + "\n"));
    });
  return dlq;
}
