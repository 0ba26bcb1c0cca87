#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig, type Config } from "../config/index.js";
import { CHANNELS, KIND_NAMES, ValidationError, type ChannelName } from "../contracts/index.js";
import { createLogger, wantsPrettyLogs } from "../logger.js";
import { lookupStatus } from "../queues/status.js";
import { addDlqCommands, formatCounts, formatStatus, QUEUE_STATES } from "./dlq.js";
import { addWebhookCommands } from "./webhooks.js";
import { addLimitCommands } from "./limits.js";
import { addSuppressionCommands } from "./suppressions.js";
import { RateLimitedError } from "../errors/index.js";
import { limitHeapGrowth } from "./heap.js";
import { positiveInt } from "./options.js";
import { RedisUnavailableError, withRedis } from "./redis.js";
import { checkJob, readJsonOption, send, UsageError } from "./send.js";
import { PREVIEW_FORMATS, runPreview, type PreviewFormat } from "./preview.js";

/** `service`: the long-running commands log the config's warnings themselves (startService). */
function config(service = false): Config {
  const loaded = loadConfig(process.env);
  if (!service) for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  return loaded;
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

async function run(opts: { workers: boolean; http: boolean; channels?: ChannelName[]; concurrency?: number; processes?: number }) {
  const c = config(true);
  // From the start: set later, the first full collection under load waits for the limit V8 chose without it
  // (RSS then peaks above 220 MB once). RSS under load stays at 143–156 MB instead of 220–265 MB.
  const heapGrowth = limitHeapGrowth(c.HERALD_HEAP_GROWING_PERCENT);
  if (opts.processes && opts.processes > 1) {
    const { default: cluster } = await import("node:cluster");
    if (cluster.isPrimary) {
      // /metrics per process would answer for whichever process the connection lands on: one process per port.
      if (c.HERALD_METRICS_PORT !== undefined) throw new UsageError("--processes and HERALD_METRICS_PORT do not go together: run one worker per metrics port");
      const { superviseWorkers } = await import("./cluster.js");
      superviseWorkers(opts.processes, createLogger({ level: c.LOG_LEVEL, pretty: wantsPrettyLogs(c.HERALD_DEV, process.stderr.isTTY) }));
      return;
    }
  }
  // Loaded only here: `send` and `dlq` stay quick because they never load MJML, nodemailer, twilio or Fastify.
  const { closeOnSignals, startService } = await import("./service.js");
  const logger = createLogger({ level: c.LOG_LEVEL, pretty: wantsPrettyLogs(c.HERALD_DEV, process.stderr.isTTY) });
  logger.info(
    { heapGrowingPercent: heapGrowth ?? null },
    heapGrowth ? "heap growth limited (HERALD_HEAP_GROWING_PERCENT)" : "heap growth left to V8 (HERALD_HEAP_GROWING_PERCENT=0 or node's own flag)",
  );
  // A process of `--processes N` never starts a private Redis of its own (N of them would race to).
  const redisExplicit = Boolean(process.env.REDIS_URL) || Boolean(opts.processes && opts.processes > 1);
  const service = await startService({ config: c, logger, redisExplicit, ...opts });
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
    .option("--processes <n>", "worker processes on this machine, e.g. one per core (default 1)", positiveInt)
    .action((opts: { queues?: ChannelName[]; concurrency?: number; processes?: number }) =>
      run({ workers: true, http: false, channels: opts.queues, concurrency: opts.concurrency, processes: opts.processes }),
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
        // The shards of a queue (HERALD_SHARDS) share its name and add up.
        for (const queue of [...queues, deadLetters.queue]) {
          const total = counts[queue.name] ?? {};
          counts[queue.name] = total;
          for (const [state, n] of Object.entries(await queue.getJobCounts(...QUEUE_STATES))) total[state] = (total[state] ?? 0) + n;
        }
        process.stdout.write(opts.json ? JSON.stringify(counts) + "\n" : formatCounts(counts) + "\n");
      });
    });

  addDlqCommands(program, config);
  addWebhookCommands(program, config);
  addLimitCommands(program, config);
  addSuppressionCommands(program, config);

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
    // With --json, a script also gets the refusal as JSON on stdout (the human line stays on stderr).
    const json = argv.includes("--json");
    if (error instanceof ValidationError) {
      if (json) process.stdout.write(`${JSON.stringify({ error: "invalid", kind: error.kind, issues: error.issues })}\n`);
      process.stderr.write(`error: invalid ${error.kind} job:\n${error.issues.map((i) => `  ${i.field || "(job)"}: ${i.message}`).join("\n")}\n`);
      process.exit(2);
    }
    if (error instanceof RateLimitedError) {
      // 75 (EX_TEMPFAIL): try again later; the wait is on the line, and nothing was queued.
      if (json) {
        const refusal = { error: "rate-limited", limit: error.limit, retryAfter: error.retryAfter, message: error.message, queued: false };
        process.stdout.write(`${JSON.stringify(refusal)}\n`);
      }
      process.stderr.write(`error: rate limited (${error.limit}): ${error.message}; nothing was queued\nretry-after: ${error.retryAfter}\n`);
      process.exit(75);
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
