import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SpamVerdict {
  messageId: string;
  score: number;
  /** rule name → points */
  rules: Record<string, number>;
  /** SpamAssassin's own lines: points, rule, description. */
  report: string;
}

/** The spamassassin executable on PATH; a clear error when it is not installed (CI installs it, tests never skip). */
export function findSpamAssassin(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "spamassassin");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    "spamassassin is not on PATH: the deliverability tests score every mail with it. " +
      "Install the Debian package: apt-get update && apt-get install -y spamassassin (CI's .ci/run does this).",
  );
}

const unfold = (value: string) => value.replace(/\r?\n[ \t]+/g, " ").trim();

/**
 * Scores raw messages with `spamassassin -t -L` (local tests only: no DNS, no network), several messages per
 * process and one process per core, keyed by Message-ID. Bayes is off and the user's own preferences are
 * not read, so the result depends on the rules alone.
 */
export async function scoreMessages(raws: Buffer[], executable = findSpamAssassin()): Promise<Map<string, SpamVerdict>> {
  const dir = mkdtempSync(join(tmpdir(), "herald-spamassassin-"));
  try {
    const prefs = join(dir, "user_prefs");
    writeFileSync(prefs, "");
    const files = raws.map((raw, i) => {
      const file = join(dir, `${String(i).padStart(4, "0")}.eml`);
      writeFileSync(file, raw);
      return file;
    });
    const processes = Math.max(1, Math.min(availableParallelism(), 4, files.length));
    const chunks = Array.from({ length: processes }, (_, p) => files.filter((_, i) => i % processes === p));
    const args = [
      "-t",
      "-L",
      "-x",
      "-p",
      prefs,
      "--cf=use_bayes 0",
      "--cf=add_header all Herald-Result _HEADER(Message-ID)_ _SCORE_ _TESTSSCORES(,)_",
      "--cf=add_header all Herald-Report _REPORT_",
    ];
    const outputs = await Promise.all(
      chunks.map((chunk) =>
        run(executable, [...args, ...chunk], { env: { ...process.env, HOME: dir, LANG: "C" }, maxBuffer: 256 * 1024 * 1024, encoding: "latin1" }).then(
          (r) => r.stdout,
        ),
      ),
    );
    const verdicts = new Map<string, SpamVerdict>();
    const header = /^X-Spam-Herald-Result:((?:.*)(?:\r?\n[ \t].*)*)\r?\nX-Spam-Herald-Report:((?:.*)(?:\r?\n[ \t].*)*)/gm;
    for (const output of outputs) {
      for (const m of output.matchAll(header)) {
        const [messageId = "", score, tests = ""] = unfold(m[1]!).split(/\s+/);
        const rules = Object.fromEntries(
          tests
            .split(",")
            .filter(Boolean)
            .map((t) => {
              const [name, points] = t.split("=");
              return [name, Number(points)];
            }),
        );
        const report = m[2]!
          .split(/\r?\n/)
          .map((line) => line.replace(/^[ \t]*\*?/, "").trimEnd())
          .filter((line) => line.trim() !== "")
          .join("\n");
        verdicts.set(messageId, { messageId, score: Number(score), rules, report });
      }
    }
    return verdicts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
