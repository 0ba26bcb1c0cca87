import { describe, expect, it } from "vitest";
import { classifyDeliveryError } from "../../src/workers/classify.js";

describe("delivery error classification", () => {
  it.each([
    ["smtp", { responseCode: 550, code: "EENVELOPE" }, true, "smtp-550"],
    ["smtp", { responseCode: 554 }, true, "smtp-554"],
    ["smtp", { responseCode: 421 }, false, "smtp-421"],
    ["smtp", { responseCode: 535, code: "EAUTH" }, false, "smtp-535"], // credentials: wait for the fix
    ["smtp", { code: "ECONNREFUSED" }, false, "ECONNREFUSED"],
    ["twilio", { status: 400, code: 21211 }, true, "twilio-21211"],
    ["twilio", { status: 400, code: 21610 }, true, "twilio-21610"],
    ["twilio", { status: 400, code: 21606 }, false, "twilio-21606"], // our sender is wrong: configuration
    ["twilio", { status: 400, code: 21611 }, false, "twilio-21611"], // sender queue full: wait
    ["twilio", { status: 400, code: 21999 }, true, "twilio-21999"], // another 400: Twilio refuses it again
    ["twilio", { status: 429, code: 20429 }, false, "twilio-20429"],
    ["twilio", { status: 401, code: 20003 }, false, "twilio-20003"],
    ["twilio", { status: 503 }, false, "twilio-http-503"],
    ["twilio", { code: "ECONNRESET" }, false, "ECONNRESET"],
  ])("%s %j → permanent %s", (provider, error, permanent, code) => {
    expect(classifyDeliveryError(provider, error)).toEqual({ permanent, code });
  });
});
