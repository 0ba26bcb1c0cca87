import { describe, expect, it } from "vitest";
import { createOutboxSmsProvider } from "../../src/channels/outbox.js";
import { classifySmtpError } from "../../src/channels/smtp-errors.js";
import { classifyTwilioError } from "../../src/channels/twilio-errors.js";

describe("each provider classifies its own errors", () => {
  it.each([
    [{ responseCode: 550, code: "EENVELOPE" }, true, "smtp-550", true], // a 550 without enhanced status: a hard bounce
    [{ responseCode: 550, response: "550 5.7.1 refused by policy" }, true, "smtp-550"], // policy: permanent, not a bounce
    [{ responseCode: 554 }, true, "smtp-554"],
    [{ responseCode: 421 }, false, "smtp-421"],
    [{ responseCode: 535, code: "EAUTH" }, false, "smtp-535"], // credentials: wait for the fix
    [{ responseCode: 530 }, false, "smtp-530"],
    [{ responseCode: 500, code: "ETLS" }, false, "smtp-500"], // no STARTTLS while it is required: configuration
    [{ code: "ECONNREFUSED" }, false, "ECONNREFUSED"],
    [undefined, false, "smtp-error"],
  ])("smtp %j → permanent %s", (error, permanent, code, hardBounce?: boolean) => {
    expect(classifySmtpError(error)).toEqual({ permanent, code, ...(hardBounce ? { hardBounce } : {}) });
  });

  it.each([
    [{ status: 400, code: 21211 }, true, "twilio-21211"],
    [{ status: 400, code: 21610 }, true, "twilio-21610", true], // opted out: the number is suppressed
    [{ status: 400, code: 21606 }, false, "twilio-21606"], // our sender is wrong: configuration
    [{ status: 400, code: 21611 }, false, "twilio-21611"], // sender queue full: wait
    [{ status: 400, code: 21999 }, true, "twilio-21999"], // another 400: Twilio refuses it again
    [{ status: 429, code: 20429 }, false, "twilio-20429"],
    [{ status: 401, code: 20003 }, false, "twilio-20003"],
    [{ status: 503 }, false, "twilio-http-503"],
    [{ code: "ECONNRESET" }, false, "ECONNRESET"],
    [undefined, false, "twilio-error"],
  ])("twilio %j → permanent %s", (error, permanent, code, hardBounce?: boolean) => {
    expect(classifyTwilioError(error)).toEqual({ permanent, code, ...(hardBounce ? { hardBounce } : {}) });
  });

  it("the outbox waits for ops on a file-system error", () => {
    const outbox = createOutboxSmsProvider({ dir: "/nonexistent" });
    expect(outbox.classify(Object.assign(new Error("no space"), { code: "ENOSPC" }))).toEqual({ permanent: false, code: "ENOSPC" });
    expect(outbox.classify(new Error("odd"))).toEqual({ permanent: false, code: "outbox-error" });
  });
});
