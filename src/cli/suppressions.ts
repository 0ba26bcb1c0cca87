import type { Command } from "commander";
import type { Config } from "../config/index.js";
import { Suppressions, type SuppressionRecord } from "../queues/suppressions.js";
import { loadKey } from "../secrets/key.js";
import { table } from "./dlq.js";
import { withRedis, type OpsContext } from "./redis.js";
import { UsageError } from "./send.js";

function open(ops: OpsContext): Suppressions {
  const { config } = ops;
  const { key } = loadKey({
    HERALD_ENCRYPTION_KEY: config.HERALD_ENCRYPTION_KEY,
    HERALD_ENCRYPTION_KEYS: config.HERALD_ENCRYPTION_KEYS,
    dev: config.HERALD_DEV,
    dataDir: config.HERALD_DATA_DIR,
  });
  return new Suppressions(ops.connection, config.HERALD_PREFIX, key, config.HERALD_SUPPRESSION_TTL_DAYS);
}

const days = (seconds: number) => `${Math.ceil(seconds / 86_400)}d`;

export function formatSuppressions(records: SuppressionRecord[]): string {
  if (records.length === 0) return "no suppressed recipients";
  return table(
    ["ID", "SOURCE", "CODE", "KIND", "SINCE", "EXPIRES", "REASON"],
    records.map((r) => [
      r.id,
      r.source,
      r.code ?? "-",
      r.kind ?? "-",
      r.at,
      `in ${days(r.expiresIn)}`,
      r.reason.length > 60 ? `${r.reason.slice(0, 59)}…` : r.reason,
    ]),
  );
}

/** `herald suppressions list|show|add|remove`. */
export function addSuppressionCommands(program: Command, config: () => Config): void {
  const cmd = program.command("suppressions").description("recipients nothing is sent to (hard bounces, or added by hand): list, show, add, remove");

  cmd
    .command("list")
    .option("--json", "print JSON")
    .description("every entry, newest first (entry ids are keyed hashes: the list holds no address)")
    .action(async (opts: { json?: boolean }) => {
      await withRedis(config(), async (ops) => {
        const records = await open(ops).list();
        process.stdout.write(opts.json ? `${JSON.stringify(records)}\n` : `${formatSuppressions(records)}\n`);
      });
    });

  cmd
    .command("show")
    .argument("<address>", "an email address or an E.164 number")
    .option("--json", "print JSON")
    .description("whether a recipient is suppressed, and why")
    .action(async (address: string, opts: { json?: boolean }) => {
      await withRedis(config(), async (ops) => {
        const record = await open(ops).check(address);
        if (opts.json) process.stdout.write(`${JSON.stringify(record ? { suppressed: true, ...record } : { suppressed: false })}\n`);
        else process.stdout.write(record ? `${formatSuppressions([record])}\n` : "not suppressed\n");
      });
    });

  cmd
    .command("add")
    .argument("<address>", "an email address or an E.164 number")
    .option("--reason <text>", "why (shown in list and in the dead letters of its jobs)")
    .description("suppress a recipient until the entry expires (HERALD_SUPPRESSION_TTL_DAYS) or is removed")
    .action(async (address: string, opts: { reason?: string }) => {
      await withRedis(config(), async (ops) => {
        const list = open(ops);
        const id = await list.add(address, { source: "admin", reason: opts.reason ?? "added by an admin" });
        process.stdout.write(`suppressed: ${id} (expires in ${days(list.ttlSeconds)})\n`);
      });
    });

  cmd
    .command("remove")
    .argument("[address]", "an email address or an E.164 number")
    .option("--id <id>", "the entry id, as list shows it")
    .description("let messages flow to a recipient again (replay its dead letters to send them)")
    .action(async (address: string | undefined, opts: { id?: string }) => {
      if (!address === !opts.id) throw new UsageError("give an address or --id <id>");
      await withRedis(config(), async (ops) => {
        const list = open(ops);
        const removed = address ? await list.remove(address) : await list.removeId(opts.id!);
        if (!removed) throw new UsageError("no such entry");
        process.stdout.write("removed\n");
      });
    });
}
