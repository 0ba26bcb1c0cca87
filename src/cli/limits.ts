import type { Command } from "commander";
import type { Config } from "../config/index.js";
import type { LimitSubject, LimitsView } from "../queues/limits.js";
import { withRedis } from "./redis.js";
import { heraldFor, UsageError } from "./send.js";

/** An email address or an E.164 number is an address; anything else a userId (unless --user or --country says). */
export function subjectOf(value: string | undefined, opts: { user?: boolean; country?: string }): LimitSubject {
  if (opts.country) {
    if (!/^[A-Za-z]{2}$/.test(opts.country)) throw new UsageError("--country takes an ISO 3166 code such as CH");
    return { country: opts.country.toUpperCase() };
  }
  if (!value) throw new UsageError("give an address, a userId (with --user) or --country <code>");
  if (opts.user) return { userId: value };
  return value.includes("@") || /^\+\d{6,15}$/.test(value.replace(/[\s().-]/g, "")) ? { address: value } : { userId: value };
}

export function formatLimits(view: LimitsView): string {
  const lines: string[] = [];
  const counter = (what: string, c: { lastHour: number; limit: number; retryAfter: number }) =>
    `${what}: ${c.lastHour} in the last hour (limit ${c.limit || "off"})${c.retryAfter ? `; next send passes in ${c.retryAfter} s` : ""}`;
  if (view.address) {
    lines.push(counter("address", view.address));
    const cooling = Object.entries(view.address.cooldowns);
    lines.push(cooling.length ? `cooldowns: ${cooling.map(([kind, s]) => `${kind} ${s} s left`).join(", ")}` : "cooldowns: none");
  }
  if (view.user) lines.push(counter("userId", view.user));
  if (view.country) {
    lines.push(counter(`SMS to ${view.country.code}`, view.country));
    lines.push(view.country.breakerOpenFor ? `breaker: OPEN for ${view.country.breakerOpenFor} s more` : "breaker: closed");
  }
  return lines.join("\n");
}

/** `herald limits show|reset|breakers`. */
export function addLimitCommands(program: Command, config: () => Config): void {
  const limits = program.command("limits").description("resend limits and SMS country breakers: current counters, reset");
  const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);

  limits
    .command("show")
    .argument("[subject]", "an email address, an E.164 number or a userId")
    .option("--user", "the subject is a userId (even if it looks like an address)")
    .option("--country <code>", "the SMS counter and breaker of a country (ISO 3166)")
    .option("--json", "print JSON")
    .description("current counters of an address, a userId or a country")
    .action(async (value: string | undefined, opts: { user?: boolean; country?: string; json?: boolean }) => {
      const subject = subjectOf(value, opts);
      await withRedis(config(), async (ops) => {
        const herald = heraldFor(ops, warn);
        try {
          const view = await herald.limits.show(subject);
          process.stdout.write(opts.json ? `${JSON.stringify(view)}\n` : `${formatLimits(view)}\n`);
        } finally {
          await herald.close();
        }
      });
    });

  limits
    .command("reset")
    .argument("[subject]", "an email address, an E.164 number or a userId")
    .option("--user", "the subject is a userId")
    .option("--country <code>", "close a country's SMS breaker and forget its counter")
    .description("forget the counters and cooldowns of an address or userId, or a country's breaker")
    .action(async (value: string | undefined, opts: { user?: boolean; country?: string }) => {
      const subject = subjectOf(value, opts);
      await withRedis(config(), async (ops) => {
        const herald = heraldFor(ops, warn);
        try {
          const removed = await herald.limits.reset(subject);
          process.stdout.write(`reset: ${removed} counter(s) removed\n`);
        } finally {
          await herald.close();
        }
      });
    });

  limits
    .command("breakers")
    .description("SMS country breakers open now")
    .action(async () => {
      await withRedis(config(), async (ops) => {
        const herald = heraldFor(ops, warn);
        try {
          const open = await herald.limits.openBreakers();
          process.stdout.write(open.length ? `${open.map((b) => `${b.country}  open for ${b.retryAfter} s`).join("\n")}\n` : "no open breakers\n");
        } finally {
          await herald.close();
        }
      });
    });
}
