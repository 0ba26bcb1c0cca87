import { describe, expect, it } from "vitest";
import { KIND_NAMES, kindDefinition, parseJob } from "../../src/contracts/index.js";
import { createRenderer } from "../../src/templates/renderer.js";
import { smsSegments } from "../../src/templates/sms-segments.js";

// Identity servers give codes lifetimes from a minute (OTP) to days (initialization). Intl words the
// lifetime ("2 días", "5 dni"), and one letter outside GSM-7 there turns the whole SMS into UCS-2 with
// 70 units instead of 160: so every lifetime is tried, not a few.
const CODE = "12345678";
const PRODUCT = "ABCDEFGHIJKLMNOPQRST";
const NOW = Date.parse("2030-01-15T10:00:00Z");
const WEEK_IN_MINUTES = 7 * 24 * 60;
const SMS_KINDS = KIND_NAMES.filter((kind) => kindDefinition(kind).channels.includes("sms"));

describe("every SMS fits one segment at every lifetime from 1 minute to 7 days", async () => {
  const renderer = await createRenderer();

  it("sweeps SMS kinds and locales (sanity: there is something to sweep)", () => {
    expect(SMS_KINDS.length).toBeGreaterThanOrEqual(2);
    expect(renderer.locales.length).toBeGreaterThanOrEqual(12);
  });

  it.each(SMS_KINDS.flatMap((kind) => renderer.locales.map((locale) => [kind, locale] as const)))("%s in %s", (kind, locale) => {
    const over: string[] = [];
    const units = new Set<string>();
    for (let minutes = 1; minutes <= WEEK_IN_MINUTES; minutes++) {
      const job = parseJob(kind, {
        recipient: { userId: "u-1", phone: "+41791234567", locale },
        tenant: { branding: { productName: PRODUCT } },
        code: CODE,
        expiresAt: new Date(NOW + minutes * 60_000).toISOString(),
        ...(kindDefinition(kind).channels[0] === "sms" ? {} : { channel: "sms" }),
      });
      const { body } = renderer.sms({ kind, job, now: NOW });
      expect(body, `${minutes} min`).toContain(CODE);
      const counted = smsSegments(body);
      units.add(body.replace(/\d+/g, "#"));
      if (counted.segments > 1) over.push(`${minutes} min (${counted.encoding}, ${counted.units} units): ${body}`);
    }
    // Minutes, hours and days each give their own wording: all three were seen.
    expect(units.size, "the sweep saw minutes, hours and days").toBeGreaterThanOrEqual(3);
    expect(over.slice(0, 3), `${over.length} lifetimes need more than one segment`).toEqual([]);
  });
});
