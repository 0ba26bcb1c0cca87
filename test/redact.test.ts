import { describe, expect, it } from "vitest";
import { wantsPrettyLogs } from "../src/logger.js";
import { scrub, scrubIdentifier } from "../src/redact.js";
import { memoryLog } from "./support/log-sink.js";

describe("personal data and secrets stay out of logs and stored reasons", () => {
  it("scrub masks emails, phone numbers, links and known secrets in free text", () => {
    const text = "550 5.1.1 <ada.lovelace+x@mail.example.co.uk>: no such user; To +41 79 123 45 67 / 0041791234567; see https://login.example.com/r?code=K7Q";
    const out = scrub(text, ["K7Q-SECRET"]);
    expect(out).toBe("550 5.1.1 <[email]>: no such user; To [phone] / [phone]; see [link]");
    expect(scrub("code K7Q-SECRET rejected", ["K7Q-SECRET"])).toBe("code [secret] rejected");
    expect(scrub("SMTP 421 4.7.0 try again at 2026-01-01")).toBe("SMTP 421 4.7.0 try again at 2026-01-01");
  });

  it("the logger redacts sensitive fields and scrubs error messages", () => {
    const { logger, text } = memoryLog();
    logger.info(
      { recipient: { email: "ada@example.com", phone: "+41791234567" }, code: "K7Q", job: { data: { url: "https://x.test/r?c=K7Q" } }, kind: "password-reset" },
      "hello",
    );
    logger.error({ err: new Error("The 'To' number +15005550001 is not valid for bob@example.com") }, "failed");
    const all = text();
    expect(all).toContain('"kind":"password-reset"');
    for (const secret of ["ada@example.com", "+41791234567", "K7Q", "x.test", "+15005550001", "bob@example.com"]) expect(all).not.toContain(secret);
    expect(all).toContain("[redacted]");
  });

  it("keeps an error's code (ECONNREFUSED, smtp-550) but still hides a job's code anywhere", () => {
    const { logger, text, records } = memoryLog();
    logger.error(
      {
        err: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }),
        code: "K7Q-1",
        job: { code: "K7Q-2", data: { code: "K7Q-3" } },
      },
      "down",
    );
    logger.error({ err: Object.assign(new Error("550 no such user"), { code: "smtp-550" }) }, "refused");
    const [down, refused] = records() as { err: { code: string }; code: string; job: unknown }[];
    expect(down?.err.code).toBe("ECONNREFUSED");
    expect(refused?.err.code).toBe("smtp-550");
    expect(down?.code).toBe("[redacted]");
    expect(down?.job).toEqual({ code: "[redacted]", data: { code: "[redacted]" } });
    expect(text()).not.toMatch(/K7Q/);
  });

  it("identifiers (idempotency keys) keep their digits; addresses, links and +numbers in them are still masked", () => {
    expect(scrubIdentifier("reset-u1-20261128100000")).toBe("reset-u1-20261128100000");
    expect(scrubIdentifier("order 123456789012 / 1732790400000")).toBe("order 123456789012 / 1732790400000");
    expect(scrubIdentifier("verify:ada@example.com:+41 79 123 45 67:https://x.test/a")).toBe("verify:[email]:[phone]:[link]");
    // Free text (provider errors, reasons) still loses bare numbers: there they are usually phone numbers.
    expect(scrub("reset-u1-20261128100000")).toBe("reset-u1-[phone]");
  });

  it("development logs are readable lines, redacted like JSON ones; JSON unless HERALD_DEV=1 on a terminal", () => {
    const { logger, text } = memoryLog({ pretty: true });
    logger.info({ jobId: "j-1", recipient: { email: "ada@example.com" }, code: "K7Q" }, "delivered");
    logger.flush?.();
    const out = text();
    expect(out).toMatch(/INFO.*\(herald\): delivered/);
    expect(out).toContain('jobId: "j-1"');
    expect(() => JSON.parse(out)).toThrow();
    expect(out).not.toMatch(/ada@example\.com|K7Q/);
    expect(out).toContain("[redacted]");
    expect(wantsPrettyLogs(true, true)).toBe(true);
    expect(wantsPrettyLogs(true, false)).toBe(false);
    expect(wantsPrettyLogs(false, true)).toBe(false);
    expect(wantsPrettyLogs(true, undefined)).toBe(false);
  });
});
