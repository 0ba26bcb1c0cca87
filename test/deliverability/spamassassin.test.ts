import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildEml } from "../../src/channels/eml.js";
import { emlOf, FROM, mailCases } from "./mails.js";
import { findSpamAssassin, scoreMessages, type SpamVerdict } from "./spamassassin.js";

const MAX_SCORE = 1.0;

// Rendered at collection, so each kind and locale is a test of its own.
const cases = await mailCases();

// SpamAssassin's test string (GTUBE): any working install scores it far above any threshold.
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

describe("SpamAssassin (spamassassin -t -L, local rules) scores every email kind", () => {
  const verdicts = new Map<string, SpamVerdict | undefined>();
  let gtube: SpamVerdict | undefined;

  beforeAll(async () => {
    const executable = findSpamAssassin(); // throws with install instructions when missing
    const built = await Promise.all(cases.map((c) => emlOf(c)));
    const control = await buildEml({ to: { address: "ada.lovelace@example.com" }, subject: "Control", text: `${GTUBE}\n`, html: `<p>${GTUBE}</p>` }, FROM);
    const scored = await scoreMessages([...built.map((b) => b.raw), control.raw], executable);
    cases.forEach((c, i) => verdicts.set(c.id, scored.get(built[i]!.messageId)));
    gtube = scored.get(control.messageId);
  }, 120_000);

  it("really scores: the GTUBE control message is spam, and every mail got a verdict", () => {
    expect(gtube?.rules, "GTUBE control").toHaveProperty("GTUBE");
    expect(gtube!.score).toBeGreaterThan(MAX_SCORE);
    for (const c of cases) expect(verdicts.get(c.id), `${c.id}: no SpamAssassin verdict`).toBeDefined();
  });

  for (const c of cases) {
    it(`${c.id} scores at most ${MAX_SCORE}`, () => {
      const verdict = verdicts.get(c.id);
      expect(verdict, `${c.id}: no SpamAssassin verdict`).toBeDefined();
      // the HTML part was parsed: HTML_MESSAGE fires on every HTML mail
      expect(Object.keys(verdict!.rules), `${c.id}: SpamAssassin saw no HTML part`).toContain("HTML_MESSAGE");
      expect(verdict!.score, `${c.id} scored ${verdict!.score} (max ${MAX_SCORE}); rules that fired:\n${verdict!.report}`).toBeLessThanOrEqual(MAX_SCORE);
    });
  }
});

describe("without SpamAssassin", () => {
  it("the failure says what is missing and how to install it", () => {
    const saved = process.env.PATH;
    const empty = mkdtempSync(join(tmpdir(), "herald-no-sa-"));
    process.env.PATH = empty;
    try {
      expect(() => findSpamAssassin()).toThrow(/spamassassin is not on PATH.*apt-get install -y spamassassin/);
    } finally {
      process.env.PATH = saved;
      rmSync(empty, { recursive: true, force: true });
    }
    expect(findSpamAssassin()).toMatch(/\/spamassassin$/);
  });
});
