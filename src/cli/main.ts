#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig, type Config } from "../config/index.js";
import { CHANNELS, KIND_NAMES, ValidationError, type ChannelName } from "../contracts/index.js";
import { FAILURE_CLASSES } from "../errors/index.js";
import { createLogger, wantsPrettyLogs } from "../logger.js";
import { publicDeadLetter } from "../queues/dead-letter.js";
import { lookupStatus } from "../queues/status.js";
import { checkSelection, formatCounts, formatStatus, formatTable, purge, QUEUE_STATES, replay, toFilter, type FilterOptions } from "./dlq.js";
import { RedisUnavailableError, withRedis } from "./redis.js";
import { checkJob, readJsonOption, send, UsageError } from "./send.js";
import { PREVIEW_FORMATS, runPreview, type PreviewFormat } from "./preview.js";

/** `service`: the long-running commands log the config's warnings themselves (startService). */
function config(service = false): Config {
  const loaded = loadConfig(process.env);
  if (!service) for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  return loaded;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number of at least 1");
  return n;
}

function channelList(value: string): ChannelName[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const wrong = names.filter((n) => !CHANNELS.includes(n as ChannelName));
  if (wrong.length || names.length === 0) throw new InvalidArgumentError(`must be a comma-separated list of ${CHANNELS.join(", ")}`);
  return names as ChannelName[];
}

const filterOptions = (cmd: Command) =>
  cmd
    .addOption(new Option("--kind <kind>", "only this job kind").choices(KIND_NAMES))
    .addOption(new Option("--class <class>", "only this failure class").choices(FAILURE_CLASSES))
    .option("--since <when>", "only those that failed since an ISO time or a duration ago (30m, 6h, 2d)");

async function run(opts: { workers: boolean; http: boolean; channels?: ChannelName[]; concurrency?: number }) {
  const c = config(true);
  // Loaded only here: `send` and `dlq` stay quick because they never load MJML, nodemailer, twilio or Fastify.
  const { closeOnSignals, startService } = await import("./service.js");
  const logger = createLogger({ level: c.LOG_LEVEL, pretty: wantsPrettyLogs(c.HERALD_DEV, process.stderr.isTTY) });
  const service = await startService({ config: c, logger, redisExplicit: Boolean(process.env.REDIS_URL), ...opts });
  closeOnSignals(() => service.close(), logger);
}

export function buildProgram(): Command {
  const program = new Command("herald")
    .description(
      "Identity-lifecycle notifications: enqueue, deliver by SMTP/Twilio, inspect and replay dead letters.\nConfiguration comes from the environment; see the README.",
    )
    .version(packageVersion(), "-V, --version", "print Herald's version")
    // Commander's own usage errors (unknown option, bad choice) exit 2 like every other bad input; see main().
    .exitOverride()
    .showHelpAfterError();

  program
    .command("start")
    .description("run Herald: email and SMS workers, the dead-letter mover, the HTTP API, Bull Board and /metrics")
    .action(() => run({ workers: true, http: true }));

  program
    .command("api")
    .description("run the HTTP API, Bull Board and /metrics only (workers run elsewhere)")
    .action(() => run({ workers: false, http: true }));

  program
    .command("worker")
    .description("run workers only, e.g. to scale a channel on its own")
    .option("--queues <list>", "channels to work: email,sms", channelList)
    .option("--concurrency <n>", "jobs at once per queue", positiveInt)
    .action((opts: { queues?: ChannelName[]; concurrency?: number }) =>
      run({ workers: true, http: false, channels: opts.queues, concurrency: opts.concurrency }),
    );

  program
    .command("send")
    .description(`validate and enqueue one job; prints its id\nkinds: ${KIND_NAMES.join(", ")}`)
    .argument("<kind>", "job kind")
    .option("--data <json>", "the job as JSON")
    .option("--data-file <file>", "read the job from a JSON file ('-' for standard input)")
    .option("--json", "print {id, channel, deduplicated} as JSON")
    .action(async (kind: string, opts: { data?: string; dataFile?: string; json?: boolean }) => {
      const job = readJsonOption(opts);
      checkJob(kind, job);
      const result = await withRedis(config(), (ops) => send(ops, kind, job, (m) => process.stderr.write(`warning: ${m}\n`)));
      if (result.deduplicated && !opts.json)
        process.stderr.write(`note: idempotencyKey seen before: job ${result.id} is ${result.status}; nothing new was queued\n`);
      process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : `${result.id}\n`);
    });

  program
    .command("preview")
    .description(
      `render a job as it would be sent, without sending it (needs no Redis): the mail's HTML or text part, the complete .eml, or the SMS\n` +
        `sample data unless --data/--data-file is given; kinds: ${KIND_NAMES.join(", ")}`,
    )
    .argument("<kind>", "job kind")
    .addOption(
      new Option("--format <format>", "html, text or eml for a mail; sms for an SMS (default: html, or sms for phone-verification)").choices(PREVIEW_FORMATS),
    )
    .option("--locale <tag>", "recipient locale, e.g. de or ar (overrides the job's recipient.locale)")
    .option("--tenant <id>", "tenant id (its branding, sender and texts from the tenants file)")
    .option("--data <json>", "the job as JSON, as for send (default: realistic sample data)")
    .option("--data-file <file>", "read the job from a JSON file ('-' for standard input)")
    .option("--out <file>", "write to this file instead of standard output")
    .action(async (kind: string, opts: { format?: PreviewFormat; locale?: string; tenant?: string; data?: string; dataFile?: string; out?: string }) => {
      const data = opts.data !== undefined || opts.dataFile !== undefined ? readJsonOption(opts) : undefined;
      // preview.js loads MJML and Handlebars (and nodemailer for --format eml) only when it renders; it never touches Redis.
      await runPreview(config(), kind, { format: opts.format, locale: opts.locale, tenant: opts.tenant, data, out: opts.out });
    });

  program
    .command("status")
    .argument("<id>", "job id (as printed by send)")
    .description("where a notification is: queued, active, retrying, delivered or dead-lettered")
    .option("--json", "print JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      await withRedis(config(), async (ops) => {
        const status = await lookupStatus(id, ops);
        if (!status) throw new UsageError(`no notification ${id} (unknown, or completed longer ago than HERALD_KEEP_COMPLETED_S)`);
        process.stdout.write(opts.json ? JSON.stringify(status) + "\n" : formatStatus(status) + "\n");
      });
    });

  program
    .command("queues")
    .description("jobs per queue and state")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRedis(config(), async ({ queues, deadLetters }) => {
        const counts: Record<string, Record<string, number>> = {};
        for (const queue of [...queues, deadLetters.queue]) counts[queue.name] = await queue.getJobCounts(...QUEUE_STATES);
        process.stdout.write(opts.json ? JSON.stringify(counts) + "\n" : formatCounts(counts) + "\n");
      });
    });

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

  return program;
}

function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js are both two folders below package.json.
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** Errors a user can act on print as one line and exit 1 (2 for bad input: usage or job); never a stack trace. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (or the help, or the version) already.
      process.exit(error.exitCode === 0 ? 0 : 2);
    }
    if (error instanceof ValidationError) {
      process.stderr.write(`error: invalid ${error.kind} job:\n${error.issues.map((i) => `  ${i.field || "(job)"}: ${i.message}`).join("\n")}\n`);
      process.exit(2);
    }
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof RedisUnavailableError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    }
    process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
    // The stack is for a bug report, not for the operator's screen.
    if (/^(debug|trace)$/.test(process.env.LOG_LEVEL ?? "")) process.stderr.write(`${(error as Error)?.stack ?? ""}\n`);
    process.exit(1);
  }
}

void main();
