import type { Command } from "commander";
import type { Config } from "../config/index.js";
import { WebhookDeadLetters, webhookPolicyOf, type WebhookDeadLetterRecord } from "../queues/webhook-outbox.js";
import { table } from "./dlq.js";
import { positiveInt } from "./options.js";
import { withRedis } from "./redis.js";
import { UsageError } from "./send.js";

function formatLetters(items: WebhookDeadLetterRecord[]): string {
  if (items.length === 0) return "no webhook dead letters";
  const rows = items.map((l) => [l.id, l.endpointId, l.event.type, l.event.data.id, String(l.attempts), l.failedAt, l.reason]);
  return table(["ID", "ENDPOINT", "EVENT", "NOTIFICATION", "TRIES", "FAILED AT", "REASON"], rows);
}

/** `webhooks endpoints|dead-letters|replay`: the configured endpoints (never their secrets) and the messages they did not take. */
export function addWebhookCommands(program: Command, config: () => Config): Command {
  const webhooks = program.command("webhooks").description("webhook endpoints (HERALD_WEBHOOKS) and their dead letters");
  webhooks
    .command("endpoints")
    .description("the configured endpoints and their event types (secrets are not shown)")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const endpoints = config().webhooks.map(({ id, url, events, secrets }) => ({ id, url, events, secrets: secrets.length }));
      if (opts.json) process.stdout.write(JSON.stringify(endpoints) + "\n");
      else if (endpoints.length === 0) process.stdout.write("no endpoints: set HERALD_WEBHOOKS or HERALD_WEBHOOKS_FILE\n");
      else
        process.stdout.write(
          table(
            ["ID", "URL", "SECRETS", "EVENTS"],
            endpoints.map((e) => [e.id, e.url, String(e.secrets), e.events.join(",")]),
          ) + "\n",
        );
    });
  webhooks
    .command("dead-letters")
    .description("webhook messages that failed for good, newest first")
    .option("--json", "print JSON lines")
    .option("--limit <n>", "at most this many", positiveInt, 100)
    .action(async (opts: { json?: boolean; limit: number }) => {
      const c = config();
      await withRedis(c, async ({ connection }) => {
        const letters = new WebhookDeadLetters(connection, c.HERALD_PREFIX, webhookPolicyOf(c));
        try {
          const { total, items } = await letters.list(0, opts.limit);
          if (opts.json) for (const item of items) process.stdout.write(JSON.stringify(item) + "\n");
          else process.stdout.write(formatLetters(items) + (total > items.length ? `\n… ${total - items.length} more (use --limit)` : "") + "\n");
        } finally {
          await letters.close();
        }
      });
    });
  webhooks
    .command("replay")
    .description("send webhook dead letters again, with fresh attempts and their original webhook-id: one, or --all")
    .argument("[id]", "only this webhook dead letter")
    .option("--all", "every webhook dead letter")
    .action(async (id: string | undefined, opts: { all?: boolean }) => {
      if (Boolean(id) === Boolean(opts.all)) throw new UsageError("webhooks replay needs a webhook dead-letter id or --all (not both)");
      const c = config();
      await withRedis(c, async ({ connection }) => {
        const letters = new WebhookDeadLetters(connection, c.HERALD_PREFIX, webhookPolicyOf(c));
        try {
          if (id) {
            if (!(await letters.replay(id))) throw new UsageError(`no webhook dead letter ${id}`);
            process.stdout.write(`replayed ${id}\n`);
          } else {
            process.stdout.write(`replayed ${await letters.replayAll()} webhook dead letter(s)\n`);
          }
        } finally {
          await letters.close();
        }
      });
    });
  return webhooks;
}
